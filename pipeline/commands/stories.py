"""``newsmon stories``: the stories articles were grouped into, and one story's articles.

    newsmon stories --since 24h [--topic sanctions] [--json]   stories with an article in the last 24 hours
    newsmon stories --since 2024-06-01                         ... or since a date (UTC)
    newsmon stories show STORY_ID [--json]                     its articles in time order, sources and links

Stories are made while articles flow through the graph (AssignStories,
transforms/stories.py) and kept in Redis (connectors/story_index.py) until
their keys expire, 14 days after their last article. "Last seen" is the
publication time of a story's latest article. ``stories show`` exits 2 when
there is no such story (or it expired).
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone

from connectors.story_index import StoryIndex
from pipeline.commands.deliver import duration_seconds
from pipeline.errors import UsageError
from pipeline.options import add_redis_arguments, connect_redis
from transforms.normalize import strip_control_chars, to_utc_iso

__all__ = ["add_parser", "since_timestamp"]

_ENTITIES_SHOWN = 5
_HEADLINE_CHARS = 90


def since_timestamp(text, now=None):
    """``"24h"``, ``"7d"`` (before now) or a date such as ``"2024-06-01"`` -> epoch seconds (argparse type)."""
    try:
        return (time.time() if now is None else now) - duration_seconds(text)
    except argparse.ArgumentTypeError:
        pass
    iso = to_utc_iso(text) if any(c in text for c in "-/") else None
    if iso is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 24h or 7d, or a date like 2024-06-01, got {text!r}")
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def _when(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M") if epoch else "-"


def _clean(text, limit=None):
    text = " ".join(strip_control_chars(str(text or "")).split())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def _topics(story):
    return ", ".join(story["topics"]) or "-"


def _entities(story, count=_ENTITIES_SHOWN):
    return ", ".join(_clean(e["name"]) for e in story["entities"][:count]) or "-"


def _json_story(story):
    return {**story, "first": to_utc_iso(story["first"]), "last": to_utc_iso(story["last"])}


def run_list(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    index = StoryIndex(client, prefix=keys.prefix)
    stories = index.stories(since=args.since, topic=args.topic, limit=args.limit)
    if args.json:
        for story in stories:
            print(json.dumps(_json_story(story), ensure_ascii=False))
        return 0
    if not stories:
        print("no stories in that time" + (f" on topic {args.topic}" if args.topic else ""), file=sys.stderr)
        return 0
    print(f"{'story':<16}  {'last seen (UTC)':<16}  {'articles':>8} {'sources':>7}  headline")
    for story in stories:
        print(f"{story['id']:<16}  {_when(story['last']):<16}  {story['articles']:>8} {story['sources']:>7}"
              f"  {_clean(story['headline'], _HEADLINE_CHARS)}")
        print(f"{'':<16}  first {_when(story['first'])}  topics: {_topics(story)}  entities: {_entities(story)}")
    return 0


def run_show(args, _beam_args):
    _url, _server, client, keys = connect_redis(args)
    story = StoryIndex(client, prefix=keys.prefix).story(args.story_id)
    if story is None:
        raise UsageError(f"no story {args.story_id} (unknown, or expired)")
    if args.json:
        print(json.dumps(_json_story(story), ensure_ascii=False))
        return 0
    print(f"Story {story['id']}: {_clean(story['headline'])}")
    print(f"{story['articles']} articles from {story['sources']} sources, {_when(story['first'])} to"
          f" {_when(story['last'])} UTC; topics: {_topics(story)}")
    print(f"entities: {_entities(story, 10)}")
    for article in story["items"]:
        print(f"  {_when(article.get('time')):<16}  {_clean(article.get('source')) or '-':<24}"
              f"  {_clean(article.get('title'), 80)}  [{article.get('how', '')}]")
        if article.get("url"):
            print(f"  {'':<16}  {_clean(article['url'])}")
    return 0


def add_parser(commands):
    stories = commands.add_parser(
        "stories", help="list the stories articles were grouped into",
        description="Stories: one event reported by many articles and outlets, grouped as articles flow "
                    "through the pipeline. Lists the stories whose latest article is recent enough, latest "
                    "first: id, last and first article, articles, distinct sources, topics, top entities.")
    stories.add_argument("--since", type=since_timestamp, default="24h", metavar="AGE|DATE",
                         help="stories with an article published since then: 24h, 7d, or a date such as"
                              " 2024-06-01 (default: 24h)")
    stories.add_argument("--topic", help="only stories with an article on this topic")
    stories.add_argument("-n", "--limit", type=int, default=50, help="at most this many stories (default: 50)")
    stories.add_argument("--json", action="store_true", help="one JSON object per story")
    add_redis_arguments(stories)
    stories.set_defaults(func=run_list)
    actions = stories.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="a story's articles in time order, with sources and links",
                              description="A story's articles in time order, with their sources, links and how "
                                          "each joined it (new, same_url, same_text, near_duplicate, "
                                          "same_event). Exits 2 if there is no such story.")
    show.add_argument("story_id", metavar="STORY_ID")
    show.add_argument("--json", action="store_true", help="the story as one JSON object")
    add_redis_arguments(show)
    show.set_defaults(func=run_show)
