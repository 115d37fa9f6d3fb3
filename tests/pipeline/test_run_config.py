"""RunConfig: the graph's config from a command's common options, plus what the command adds."""

import dataclasses

import pytest

from pipeline.cli import build_parser
from pipeline.options import FeedRun, RunConfig


def test_from_arguments_takes_the_common_options_and_what_the_command_adds(tmp_path):
    args, _ = build_parser().parse_known_args(
        ["poll", "feeds.txt", "--aliases", "a.yaml", "--places", "p.yaml", "--prefix", "t:",
         "--no-prefilter"])
    config = RunConfig.from_arguments(args, redis_url="redis://127.0.0.1:1/0", taxonomy={"t": {}},
                                      subscriptions={"s": {"any": ["x"]}}, stats_key="k", feed_run=FeedRun(2.0))
    assert config.model is args.model
    assert (config.aliases, config.places, config.prefix, config.prefilter) == ("a.yaml", "p.yaml", "t:", False)
    assert (config.stats_key, config.feed_run.refresh_seconds) == ("k", 2.0)
    assert config.subscriptions == {"s": {"any": ["x"]}} and config.taxonomy == {"t": {}}
    assert RunConfig(redis_url="u", taxonomy={}).feed_run is None  # replay: no feed run, nothing skipped


def test_a_misspelt_addition_is_refused():
    args, _ = build_parser().parse_known_args(["poll", "feeds.txt"])
    with pytest.raises(TypeError):
        RunConfig.from_arguments(args, redis_url="u", taxonomy={}, subscriptions={}, skip_processed=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FeedRun().refresh_seconds = 1
