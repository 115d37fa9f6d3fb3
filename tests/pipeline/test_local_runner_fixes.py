"""The local-runner workarounds: still needed on this Beam, and still working.

Each check runs a short PeriodicImpulse pipeline on the FnApiRunner in a fresh
interpreter (the fixes patch the runner process-wide) and looks at what the
runner kept of the monitoring infos: a lazy generator chain (the leak) or a list.
"""

import subprocess
import sys

import apache_beam as beam
import pytest

from pipeline.local_runner_fixes import needs_fixes
from tests.conftest import ROOT

PROBE = """
import inspect, sys, time
import apache_beam as beam
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
if sys.argv[1] == "fixed":
    from pipeline.local_runner_fixes import apply_local_runner_fixes
    assert apply_local_runner_fixes()
start = time.time()
p = beam.Pipeline(runner=FnApiRunner())
_ = p | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + 1.0, fire_interval=0.2) | beam.Map(lambda x: x)
result = p.run()
kinds = {type(v).__name__ for k, v in result._monitoring_infos_by_stage.items() if k}
lazy = any(inspect.isgenerator(v) for k, v in result._monitoring_infos_by_stage.items() if k)
print("lazy" if lazy else "list", sorted(kinds))
"""


def probe(mode):
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[0]


@pytest.mark.skipif(not needs_fixes(), reason=f"no local-runner fixes for Beam {beam.__version__}")
def test_the_runner_still_leaks_without_the_fix():
    # If this fails, Beam no longer chains generators: delete pipeline/local_runner_fixes.py.
    assert probe("plain") == "lazy"


@pytest.mark.skipif(not needs_fixes(), reason=f"no local-runner fixes for Beam {beam.__version__}")
def test_the_fix_keeps_monitoring_infos_in_lists():
    assert probe("fixed") == "list"


def test_fixes_apply_only_to_measured_versions():
    assert needs_fixes("2.77.0") and not needs_fixes("2.78.0") and not needs_fixes("3.0.0")
