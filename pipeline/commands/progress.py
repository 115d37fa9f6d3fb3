"""Progress bars for commands that can take more than a few seconds, on a terminal only.

    for article, failed in progress(tag_paths(...), total=count_articles(files), desc="tag"):
    result = follow_run(lambda: run_pipeline(...), client, stats_key, total=due, field="feeds_polled", desc="poll")

The bar goes to stderr and only when stderr is a terminal: piped or logged
output stays clean. ``progress`` counts what an iterator yields (tag, eval,
rules test). A Beam run counts in a Redis hash as it goes (the run's stats
key), so ``follow_run`` runs it in a thread and its bar follows that counter:
worker processes count too (poll; replay has its own, pipeline/commands/replay.py).
"""

import sys
import threading

__all__ = ["follow_run", "progress"]


def progress(iterable, *, total, desc, unit="article"):
    """``iterable``, with a tqdm bar on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)


def follow_run(run, client, stats_key, *, total, field, desc, unit, postfix=()):
    """``run()``'s result; on a terminal, meanwhile, a bar of the Redis hash ``stats_key``'s ``field``
    up to ``total``, and the fields named in ``postfix`` beside it. Without a terminal (or with
    nothing to count) ``run()`` runs in this thread."""
    if not sys.stderr.isatty() or total < 1:
        return run()
    from tqdm import tqdm

    outcome = {}

    def target():
        try:
            outcome["result"] = run()
        except BaseException as error:  # noqa: BLE001 - re-raised in this thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name=f"newsmon-{desc}", daemon=True)
    thread.start()
    with tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False) as bar:
        while thread.is_alive():
            thread.join(0.3)
            try:
                counts = dict(zip((field, *postfix), client.hmget(stats_key, field, *postfix)))
            except Exception:  # noqa: BLE001 - the bar is cosmetic; the run reports Redis trouble itself
                continue
            bar.update(max(0, min(int(counts[field] or 0), total) - bar.n))
            if postfix:
                bar.set_postfix({name: int(counts[name] or 0) for name in postfix}, refresh=False)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
