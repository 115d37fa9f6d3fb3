"""The benchmarks live in a top-level benchmarks/ package that the wheel does not ship,
and `make bench` runs every one of them."""

import runpy

import setuptools

from benchmarks.__main__ import RUNS, write_table
from tests.conftest import ROOT


def test_the_wheel_ships_no_benchmarks_and_no_tests(monkeypatch):
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    packages = captured["packages"]
    assert {"pipeline", "connectors", "transforms"} <= set(packages)
    assert not [p for p in packages if p.split(".")[0] in ("benchmarks", "tests")]


def test_make_bench_runs_every_benchmark_module():
    assert "-m benchmarks" in (ROOT / "Makefile").read_text(encoding="utf-8")
    modules = {path.stem for path in (ROOT / "benchmarks").glob("*.py")} - {"__init__", "__main__", "common", "corpus"}
    assert modules == set(RUNS)


def test_a_table_replaces_its_block_and_keeps_the_prose():
    text = "intro\n<!-- bench:sink -->\n```\nold\n```\n<!-- /bench:sink -->\noutro\n"
    assert write_table(text, "sink", "new") == text.replace("old", "new")
    assert write_table("intro\n", "feeds", "t").endswith("## feeds\n\n<!-- bench:feeds -->\n```\nt\n```\n"
                                                         "<!-- /bench:feeds -->\n")
