"""A progress bar for commands that can take more than a few seconds, on a terminal only.

    for article, failed in progress(tag_paths(...), total=count_articles(files), desc="tag"):

The bar goes to stderr and only when stderr is a terminal: piped or logged
output stays clean. ``replay`` follows the sink's counter in Redis instead
(pipeline/commands/replay.py), so its bar counts worker processes too.
"""

import sys

__all__ = ["progress"]


def progress(iterable, *, total, desc, unit="article"):
    """``iterable``, with a tqdm bar on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
