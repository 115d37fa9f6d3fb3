"""Errors the ``newsmon`` command prints as one line, and its exit statuses.

    0    success
    1    the job ran and some inputs failed (counted, dead-lettered, each named on one line)
    2    usage or configuration error: unknown option, a missing or malformed file,
         a name that does not exist (nothing is written)
    3    Redis or the Beam runner unavailable (refused, wrong password, timeout, job server down)
    4    an unexpected error (a bug): one line; ``newsmon -v`` shows the traceback
    130  interrupted (Ctrl-C)

pipeline/cli.py maps the exceptions below (and connectors' RedisUnavailable,
transforms' RuleError) to these statuses; README.md has the same table.
"""

__all__ = ["EXIT_INPUTS_FAILED", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE",
           "RunnerUnavailable", "UsageError"]

EXIT_OK = 0
EXIT_INPUTS_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


class RunnerUnavailable(Exception):
    """The Beam runner named by --runner cannot take the job; exit status 3."""
