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
from apache_beam.runners.portability.fn_api_runner import fn_runner
if sys.argv[1] == "fixed":
    from pipeline.local_runner_fixes import apply_local_runner_fixes
    assert apply_local_runner_fixes()
bundles = []
execute = fn_runner.FnApiRunner._execute_bundle
def counting(self, *args, **kwargs):
    bundles.append(1)
    return execute(self, *args, **kwargs)
fn_runner.FnApiRunner._execute_bundle = counting
start = time.time()
p = beam.Pipeline(runner=FnApiRunner())
_ = p | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + 2.0, fire_interval=0.5) | beam.Map(lambda x: x)
result = p.run()
lazy = any(inspect.isgenerator(v) for k, v in result._monitoring_infos_by_stage.items() if k)
print("lazy" if lazy else "list", len(bundles))
"""


def probe(mode):
    """(how the runner kept the monitoring infos, bundles run) for 2 s of a 0.5 s impulse."""
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    kept, bundles = done.stdout.split()
    return kept, int(bundles)


@pytest.mark.skipif(not needs_fixes(), reason=f"no local-runner fixes for Beam {beam.__version__}")
def test_the_runner_still_leaks_and_spins_without_the_fix():
    # If this fails, Beam no longer chains generators or busy-loops on a waiting impulse:
    # the matching fix in pipeline/local_runner_fixes.py can go.
    kept, bundles = probe("plain")
    assert kept == "lazy"
    # Far more bundles than the fixed runner's bound below (about 200 on an idle machine;
    # a busy one leaves the spinning runner fewer turns, 39 at a load of 15 on 2 cores).
    assert bundles >= 30


@pytest.mark.skipif(not needs_fixes(), reason=f"no local-runner fixes for Beam {beam.__version__}")
def test_the_fix_keeps_monitoring_infos_in_lists_and_waits_between_ticks():
    kept, bundles = probe("fixed")
    assert kept == "list"
    assert bundles < 30  # ~4 ticks and the bundles around them, not a busy loop


def test_fixes_apply_only_to_measured_versions():
    assert needs_fixes("2.77.0") and not needs_fixes("2.78.0") and not needs_fixes("3.0.0")
