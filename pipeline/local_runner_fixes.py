"""Workarounds for Beam's local FnApiRunner when it runs an unbounded pipeline.

Applied only by ``newsmon monitor`` on the local runner, and only on the Beam
versions where the defects were measured (see ../shared/FACTS.md):

1. Memory: for every bundle, ``FnApiRunner.run_stages`` wraps the stage's
   monitoring infos in ``consolidate_monitoring_infos(itertools.chain(new,
   previous))`` — a lazy generator around the previous generator. With
   ``PeriodicImpulse`` the runner runs ~300 bundles a second, so the chain
   grows forever (~7.6 MB/s). Consolidating into a list keeps it flat.
2. Idle CPU: the runner re-runs the waiting impulse in a busy loop, ignoring
   the delay the impulse asks for before it resumes (``defer_remainder`` ->
   ``residual_roots[*].requested_time_delay``). For our graph each empty
   bundle costs ~8 ms of CPU: a fixed 10 ms sleep still left 43% of a core
   busy. Waiting for the requested delay (at most 1 s) when nothing else is
   ready brings an idle monitor to ~3% and leaves latency as it was.

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
MAX_WAIT_SECONDS = 1.0
_applied = False


def needs_fixes(version=beam.__version__):
    return version.startswith(AFFECTED_BEAM_VERSIONS)


def _consolidate_to_list(original):
    @functools.wraps(original)
    def consolidate(metrics, *args, **kwargs):
        return list(original(metrics, *args, **kwargs))

    consolidate.newsmon_fix = True
    return consolidate


def _note_resume_delay(original):
    @functools.wraps(original)
    def run_bundle(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        roots = result[0].process_bundle.residual_roots
        delays = [root.requested_time_delay.ToMicroseconds() / 1e6
                  for root in roots if root.HasField("requested_time_delay")]
        self._newsmon_resume_delay = min(delays) if roots and len(delays) == len(roots) else 0.0
        return result

    run_bundle.newsmon_fix = True
    return run_bundle


def _wait_after(original):
    @functools.wraps(original)
    def execute_bundle(self, runner_execution_context, *args, **kwargs):
        self._newsmon_resume_delay = 0.0
        try:
            return original(self, runner_execution_context, *args, **kwargs)
        finally:
            wait = IDLE_SLEEP_SECONDS
            if len(runner_execution_context.queues.ready_inputs) <= 1:
                wait = max(wait, min(self._newsmon_resume_delay, MAX_WAIT_SECONDS))
            time.sleep(wait)

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
    fn_runner.FnApiRunner._run_bundle = _note_resume_delay(fn_runner.FnApiRunner._run_bundle)
    fn_runner.FnApiRunner._execute_bundle = _wait_after(fn_runner.FnApiRunner._execute_bundle)
    _applied = True
    return True
