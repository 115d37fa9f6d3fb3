"""Run every benchmark and write its table into BENCHMARKS.md (``make bench``).

    python -m benchmarks [--only replay matching ...] [--quick] [--no-write]

Each benchmark runs as its own process, one after the other (they would skew
each other side by side), and prints one table: the date, the command, the
machine's load average, and every figure beside its baseline from the same
run. Each table replaces the block between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` in BENCHMARKS.md; the prose around them is kept.
``--quick`` runs smaller sizes (a check that everything runs, not figures to keep).
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"

# name: (full arguments, --quick arguments)
RUNS = {
    "replay": ([], ["--articles", "40", "--sparse-articles", "60"]),
    "matching": ([], ["--articles", "40"]),
    "sink": ([], ["--events", "3000", "--repeats", "1"]),
    "feeds": ([], ["--feeds", "100", "--repeats", "1"]),
    "monitor": (["--minutes", "10"], ["--minutes", "2", "--skip-unfixed"]),
    "stories": ([], ["--sizes", "100", "1000", "--probes", "40"]),
    "spikes": ([], ["--articles", "500", "--series", "1000", "--repeats", "1"]),
    "fulltext": ([], ["--minutes", "1", "--repeats", "1"]),
    "channels": ([], ["--alerts", "100", "--repeats", "1"]),
    "web": ([], ["--alerts", "2000", "--stories", "200", "--feeds", "50", "--requests", "5", "--seconds", "2",
                 "--listeners", "10", "--pushes", "3"]),
    "distributed": ([], ["--articles", "40", "--feeds", "100"]),
    "language": ([], ["--articles", "40", "--repeats", "1"]),
}


def run(name, quick):
    full, small = RUNS[name]
    command = [sys.executable, "-m", f"benchmarks.{name}", *(small if quick else full)]
    print(f"benchmarks: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.{name} failed (exit {done.returncode})")
    return done.stdout.strip("\n")


def write_table(text, name, table):
    """``text`` with the block of ``name`` replaced by ``table`` (appended if it has none)."""
    block = f"<!-- bench:{name} -->\n```\n{table}\n```\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return f"{text.rstrip()}\n\n## {name}\n\n{block}\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(RUNS), metavar="NAME",
                        help=f"run only these ({', '.join(RUNS)})")
    parser.add_argument("--quick", action="store_true", help="small sizes; implies --no-write")
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    for name in args.only or list(RUNS):
        table = run(name, args.quick)
        if not (args.quick or args.no_write):
            BENCHMARKS_MD.write_text(write_table(BENCHMARKS_MD.read_text(encoding="utf-8"), name, table),
                                     encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
