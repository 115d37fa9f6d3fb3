"""The ``newsmon`` commands, one module per command group.

Each module has ``add_parser(commands)``, which adds its command (or command
group) to the ``newsmon`` parser, and the handlers it runs: ``func(args,
beam_args)`` returns the exit status. ``pipeline/cli.py`` assembles the parser
from these modules and turns errors into one line and an exit status.

    replay.py      newsmon replay PATH...
    tag.py         newsmon tag PATH... [--json]
    subscribe.py   newsmon subscribe add|list|show|remove|pause|resume
    poll.py        newsmon poll FEEDLIST --once
    monitor.py     newsmon monitor FEEDLIST --interval 300
    feeds.py       newsmon feeds status
    stories.py     newsmon stories [--since 24h] [--topic T], newsmon stories show STORY_ID
    evaluate.py    newsmon eval CORPUS.jsonl, newsmon eval --stories CORPUS.jsonl
    rules.py       newsmon rules test NAME|FILE --archive PATH
    alerts.py      newsmon alerts show|tail SUBSCRIPTION
    deliver.py     newsmon deliver SUBSCRIPTION --webhook URL
    deadletters.py newsmon deadletters list|retry|remove
    web.py         newsmon web [--host H] [--port P] [--token-file F]  (the app: pipeline/web/)

``run_summary.py`` prints what a replay or a poll did; ``alerts.py`` formats
an alert for people (replay and poll show the latest ones).
"""
