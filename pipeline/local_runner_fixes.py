"""Workarounds for Beam's local FnApiRunner when it runs an unbounded pipeline.

Applied only by ``newsmon monitor`` on the local runner, and only on the Beam
versions where the defects were measured (see ../shared/FACTS.md):

1. Memory: for every bundle, ``FnApiRunner.run_stages`` wraps the stage's
   monitoring infos in ``consolidate_monitoring_infos(itertools.chain(new,
   previous))`` — a lazy generator around the previous generator. With
   ``PeriodicImpulse`` the runner runs ~300 bundles a second, so the chain
   grows forever (~7.6 MB/s). Consolidating into a list keeps it flat.
2. Idle CPU: the runner re-runs the waiting impulse in a busy loop. A short
   sleep after each bundle brings idle CPU from ~35% to ~5% of a core, and
   costs nothing next to a bundle that does real work.

``tests/pipeline/test_local_runner_fixes.py`` fails when a new Beam no longer
needs these (the runner keeps a list itself) or when they stop applying.
"""

import functools
import time

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import fn_runner

__all__ = ["AFFECTED_BEAM_VERSIONS", "apply_local_runner_fixes", "needs_fixes"]

# Versions on which the defects were measured; others run unpatched.
AFFECTED_BEAM_VERSIONS = ("2.77.",)
IDLE_SLEEP_SECONDS = 0.01
_applied = False


def needs_fixes(version=beam.__version__):
    return version.startswith(AFFECTED_BEAM_VERSIONS)


def _consolidate_to_list(original):
    @functools.wraps(original)
    def consolidate(metrics, *args, **kwargs):
        return list(original(metrics, *args, **kwargs))

    consolidate.newsmon_fix = True
    return consolidate


def _sleep_after(original):
    @functools.wraps(original)
    def execute_bundle(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            time.sleep(IDLE_SLEEP_SECONDS)

    execute_bundle.newsmon_fix = True
    return execute_bundle


def apply_local_runner_fixes():
    """Patch the FnApiRunner (once per process) if this Beam version needs it; True if patched."""
    global _applied
    if _applied:
        return True
    if not needs_fixes():
        return False
    fn_runner.consolidate_monitoring_infos = _consolidate_to_list(fn_runner.consolidate_monitoring_infos)
    fn_runner.FnApiRunner._execute_bundle = _sleep_after(fn_runner.FnApiRunner._execute_bundle)
    _applied = True
    return True
