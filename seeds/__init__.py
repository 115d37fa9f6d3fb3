"""newsmon's shipped defaults, installed with the package so that every command finds them from any folder.

    topics.yaml         the topic taxonomy                          (--topics FILE for yours)
    aliases.yaml        entity variants -> one canonical name/label (--aliases FILE)
    places.yaml         countries and capitals, to fix place labels (--places FILE)
    subscriptions.yaml  example subscriptions                       (newsmon subscribe import [FILE])
    feeds.opml          public world and security news feeds       (the default FEEDLIST of poll and monitor)
    countries.yaml      country names and capitals -> ISO codes, for per-country counts
    000_*.txt           the seed article                            (newsmon replay PATH)

``default_file("topics.yaml")`` is the path of one of them. In a source
checkout this is the project's seeds/ folder; in an installed wheel, the copy
setup.py ships as package data.
"""

from pathlib import Path

__all__ = ["SEEDS_DIR", "default_file"]

SEEDS_DIR = Path(__file__).resolve().parent


def default_file(name):
    """The path of a shipped default file, e.g. ``default_file("topics.yaml")``."""
    return SEEDS_DIR / name
