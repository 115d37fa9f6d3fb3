"""Replay throughput against raw spaCy NER, on realistic streams, side by side in one run.

    python -m benchmarks.replay [--articles 400] [--sparse-articles 600]      (make bench)

Two streams are built from the sentences of the project's labelled articles
(benchmarks/corpus.py): one where every article carries a topic ("100%
topical", ``--articles``) and one where 10% do and the rest are hard
negatives that share the taxonomy's words ("10% topical", ``--sparse-articles``).
Then, in this process, with the same texts (``title + "\\n\\n" + text``):

1. raw spaCy: ``load_ner_model()`` (NER only) and ``nlp.pipe(texts, batch_size=32)``,
   load included, on each stream; on the 100% stream also ``nlp.pipe(..., n_process=2)``;
   raw runs come before and after the replays and the ratios use their mean;
2. replay: ``run_replay`` (read .jsonl, normalize, relevance, NER, topics,
   subscriptions, idempotent writes) into a private redis-server emptied before
   each run, wall time from building the pipeline (model load and runner start
   included); the 100% stream with the default runner and with two worker
   processes, the 10% stream with and without the relevance prefilter.

Subscriptions: seeds/subscriptions.yaml. The table gives each target with the
baseline it is measured against, the load average and the date.
"""

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import (
    Figures,
    ProcessCpu,
    print_figures,
    print_target_table,
    progress,
    quiet_logging,
    start_redis,
)
from benchmarks.corpus import realistic_articles, write_jsonl

SUBSCRIPTIONS_FILE = Path(__file__).resolve().parent.parent / "seeds" / "subscriptions.yaml"
MULTI_WORKER_ARGS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
TARGETS = {"dense": 1.0, "sparse": 3.0, "two workers": 0.95}


def ner_texts(articles):
    return [f"{a['title']}\n\n{a['text']}" for a in articles]


def raw_spacy(texts, n_process=1):
    """Wall and CPU seconds (this process and its children) to load the NER-only model and
    run ``nlp.pipe`` over ``texts``."""
    from transforms.entities import load_ner_model

    with ProcessCpu() as cpu:
        start = time.perf_counter()
        nlp = load_ner_model()
        for _ in nlp.pipe(texts, batch_size=32, n_process=n_process):
            pass
        seconds = time.perf_counter() - start
    return seconds, cpu.own + sum(cpu.children.values())


def replay(jsonl, server, beam_args=(), prefilter=True):
    """``run_replay`` of the .jsonl into an emptied Redis: (seconds, ProcessCpu, counters)."""
    from apache_beam.metrics.metric import MetricsFilter

    from connectors.subscription_store import load_subscriptions_file
    from pipeline.options import RunConfig
    from pipeline.replay import run_replay
    from transforms.topics import load_taxonomy

    server.client.flushall()
    taxonomy = load_taxonomy()
    config = RunConfig(redis_url=server.url, taxonomy=taxonomy, prefilter=prefilter,
                       subscriptions=load_subscriptions_file(SUBSCRIPTIONS_FILE, list(taxonomy)))
    with ProcessCpu(excluded=[server.process.pid]) as cpu:
        start = time.perf_counter()
        result = run_replay([str(jsonl)], config, list(beam_args))
        seconds = time.perf_counter() - start
    counters = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        name = counter.key.metric.name if counter.key.metric.namespace != "written" else "written"
        counters[name] = counters.get(name, 0) + counter.committed
    return seconds, cpu, counters


def run(figures, dense_count, sparse_count, directory, skip_multi=False):
    """Every measurement; returns the target rows."""
    progress("building the streams")
    dense = realistic_articles(dense_count, 1.0, seed=1000)
    sparse = realistic_articles(sparse_count, 0.10, seed=1010)
    streams = {"dense": (dense, Path(directory) / "dense.jsonl"), "sparse": (sparse, Path(directory) / "sparse.jsonl")}
    for name, (articles, path) in streams.items():
        write_jsonl(articles, path)
        words = sum(len(t.split()) for t in ner_texts(articles)) / len(articles)
        label = "100% topical" if name == "dense" else "10% topical"
        figures.add("streams", f"{label}: articles, words per article", f"{len(articles):,}, {words:.0f}")
    label = {"dense": "100% topical", "sparse": "10% topical"}
    raw, rates = {"dense": [], "sparse": []}, {}
    raw_cpu, cpu_rates = {"dense": [], "sparse": []}, {}

    def run_raw(name, articles):
        seconds, cpu_seconds = raw_spacy(ner_texts(articles))
        raw[name].append(len(articles) / seconds)
        raw_cpu[name].append(len(articles) / cpu_seconds)

    for name, (articles, _) in streams.items():
        progress(f"raw spaCy, {label[name]}, before the replays")
        run_raw(name, articles)
    server = start_redis(directory)
    try:
        runs = [("dense", "default runner", (), True), ("sparse", "default runner", (), True),
                ("sparse", "--no-prefilter", (), False)]
        if not skip_multi:
            runs.append(("dense", "2 worker processes", MULTI_WORKER_ARGS, True))
        for name, how, beam_args, prefilter in runs:
            articles, path = streams[name]
            progress(f"replay, {label[name]}, {how}")
            seconds, cpu, counters = replay(path, server, beam_args, prefilter)
            rates[(name, how)] = len(articles) / seconds
            cpu_rates[(name, how)] = len(articles) / (cpu.own + sum(cpu.children.values()))
            section = f"replay, {label[name]}, {how}"
            figures.add(section, "wall incl. model load and runner start (s)", f"{seconds:.1f}")
            figures.add(section, "articles/s", f"{len(articles) / seconds:,.1f}")
            figures.add(section, "entries written", f"{counters.get('written', 0):,}")
            skipped = counters.get("ner_skipped", 0) if prefilter else None
            figures.add(section, "articles NER skipped (prefilter)",
                        "no prefilter" if skipped is None else f"{skipped:,} ({skipped / len(articles):.0%})")
            busy = cpu.busy_children()
            total = cpu.own + sum(cpu.children.values())
            figures.add(section, "CPU s: this process / workers (> 1 s)",
                        f"{cpu.own:.1f} / {' + '.join(f'{c:.1f}' for c in busy) or '-'}")
            figures.add(section, "CPU cores busy", f"{total / seconds:.2f}")
    finally:
        server.stop()
    two = two_cpu = None
    if not skip_multi:
        progress("raw spaCy, n_process=2, 100% topical")
        seconds, cpu_seconds = raw_spacy(ner_texts(dense), n_process=2)
        two, two_cpu = len(dense) / seconds, len(dense) / cpu_seconds
    for name, (articles, _) in streams.items():
        progress(f"raw spaCy, {label[name]}, after the replays")
        run_raw(name, articles)
    for name in streams:
        figures.add("raw spaCy (load included)", f"{label[name]}: articles/s, before / after",
                    " / ".join(f"{r:.1f}" for r in raw[name]))
        figures.add("raw spaCy (load included)", f"{label[name]}: articles per CPU s, before / after",
                    " / ".join(f"{r:.1f}" for r in raw_cpu[name]))
    mean = {name: sum(values) / len(values) for name, values in raw.items()}
    mean_cpu = {name: sum(values) / len(values) for name, values in raw_cpu.items()}
    rows = []

    def target(figure, key, baseline, baseline_cpu, wanted):
        ratio, cpu_ratio = rates[key] / baseline, cpu_rates[key] / baseline_cpu
        rows.append((figure, f"{ratio:.2f}  ({rates[key]:.1f} vs {baseline:.1f} articles/s)", f">= {wanted}",
                     "yes" if ratio >= wanted else "NO"))
        rows.append(("  the same per CPU second (what a busy machine leaves comparable)",
                     f"{cpu_ratio:.2f}  ({cpu_rates[key]:.1f} vs {baseline_cpu:.1f})", "", ""))

    target("replay / raw spaCy, 100% topical", ("dense", "default runner"), mean["dense"], mean_cpu["dense"],
           TARGETS["dense"])
    target("replay / raw spaCy, 10% topical", ("sparse", "default runner"), mean["sparse"], mean_cpu["sparse"],
           TARGETS["sparse"])
    if two is not None:
        figures.add("raw spaCy (load included)", "100% topical: n_process=2, articles/s", f"{two:.1f}")
        target("replay, 2 workers / spaCy n_process=2, 100% topical", ("dense", "2 worker processes"), two, two_cpu,
               TARGETS["two workers"])
    with_filter, without = rates[("sparse", "default runner")], rates[("sparse", "--no-prefilter")]
    rows.append(("10% topical: replay with / without the prefilter", f"{with_filter / without:.2f}  "
                 f"({with_filter:.1f} vs {without:.1f} articles/s)", "", ""))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400, metavar="N",
                        help="articles of the 100%%-topical stream (default: %(default)s)")
    parser.add_argument("--sparse-articles", type=int, default=600, metavar="N",
                        help="articles of the 10%%-topical stream (default: %(default)s)")
    parser.add_argument("--skip-multi", action="store_true", help="skip the two-worker runs")
    args = parser.parse_args(argv)
    if args.articles < 10 or args.sparse_articles < 10:
        parser.error("give at least 10 articles per stream")
    quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.replay", *(sys.argv[1:] if argv is None else argv)])
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as directory:
        rows = run(figures, args.articles, args.sparse_articles, directory, args.skip_multi)
    import apache_beam
    import spacy

    versions = f"apache-beam {apache_beam.__version__}, spaCy {spacy.__version__}"
    print_target_table("newsmon replay bench", versions, rows, command, started)
    print_figures("details", versions, figures, command, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
