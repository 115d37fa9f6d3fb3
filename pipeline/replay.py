"""Replay an article archive through the article graph into Redis.

    newsmon replay seeds/ [--redis URL] [--subscriptions FILE] [Beam options]

The graph: ReadArchive(paths) -> Reshuffle -> ArticlesToAlerts (pipeline/graph.py).
"""

import apache_beam as beam

from connectors.archive import ReadArchive
from pipeline.graph import ArticlesToAlerts
from pipeline.options import make_pipeline, run_pipeline, runs_locally

__all__ = ["build_replay", "run_replay"]


def build_replay(pipeline, paths, config, *, ship=False):
    """``ship``: read local files here and send their bytes with the job (a remote runner)."""
    source = pipeline | "ReadArchive" >> ReadArchive(paths, ship=ship)
    # A .jsonl file is read in one bundle; reshuffling spreads its articles over the
    # workers (--direct_num_workers=2 on the local runner), so NER runs on every core.
    articles = source.articles | "SpreadArticles" >> beam.Reshuffle()
    return {"articles": articles, "failed": source.failed} | "ArticlesToAlerts" >> ArticlesToAlerts(config)


def run_replay(paths, config, beam_args=()):
    """Run the replay to completion; returns Beam's PipelineResult (metrics hold the counts)."""
    pipeline = make_pipeline(list(beam_args))
    build_replay(pipeline, paths, config, ship=not runs_locally(beam_args))
    return run_pipeline(pipeline, beam_args)
