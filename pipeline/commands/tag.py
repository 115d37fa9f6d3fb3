"""``newsmon tag``: the entities and topics of a few articles, in one process, without Redis.

    newsmon tag seeds/000_aa5d093c1f1fedc9.txt [--json]
    newsmon tag page.html --json        # a saved article page: its main text is extracted and tagged

The same steps as the pipeline (pipeline/tag.py). ``--json`` prints one object
per article per line: ``{"id", "title", "language", "topics": [{"id", "score", "terms",
"evidence"}], "entities": [{"text", "label", "canonical", "count"}]}``, and for an HTML page
``"text_source": "fulltext"`` (the page's extracted main text was tagged).
Exit status 1 when an article could not be read or tagged.
"""

import logging
import sys

from connectors.archive import archive_files, count_articles
from pipeline.commands.json_lines import article_json, print_json_line
from pipeline.commands.progress import progress
from pipeline.errors import EXIT_INPUTS_FAILED, EXIT_OK
from pipeline.options import add_common_arguments, alias_table
from transforms.topics import load_taxonomy

__all__ = ["add_parser"]

_log = logging.getLogger(__name__)


def run(args, _beam_args):
    from pipeline.tag import tag_paths

    taxonomy = load_taxonomy(args.topics)
    alias_table(args)  # a bad alias or places file stops the command here, with one line
    total = count_articles(archive_files(args.paths))
    failures = 0
    tagging = tag_paths(args.paths, taxonomy, model=args.model, aliases_path=args.aliases, places_path=args.places)
    tagged = progress(tagging, total=total, desc="tag")
    for article, failed in tagged:
        if failed is not None:
            failures += 1
            print(f"newsmon: {failed['origin']}: {failed['error']}", file=sys.stderr)
            continue
        if args.json:
            print_json_line(article_json(article))
            continue
        print(f"{article['title']}  [{article['id']}, {article['language']}]")
        for topic in article["topics"]:
            print(f"  topic {topic['id']} (score {topic['score']}): {', '.join(topic['terms'])}")
            print(f"        {topic['evidence'][0]}")
        if not article["topics"]:
            print("  no topic")
        people = ", ".join(f"{e['canonical']} ({e['label']}, {e['count']})" for e in article["entities"][:12])
        print(f"  entities: {people or '-'}\n")
    _log.info("newsmon: tag: %d article(s) read, %d tagged, %d failed", total, total - failures, failures)
    return EXIT_INPUTS_FAILED if failures else EXIT_OK


def add_parser(commands):
    tag = commands.add_parser("tag", help="tag articles with entities and topics (no Redis)",
                              description="Tag .txt/.jsonl articles and .html article pages (their main"
                                          " text extracted) and print what was found.")
    tag.add_argument("paths", nargs="+", metavar="PATH")
    tag.add_argument("--json", action="store_true", help="one JSON object per article per line")
    add_common_arguments(tag)
    tag.set_defaults(func=run)
