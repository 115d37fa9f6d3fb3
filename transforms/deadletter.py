"""Failure records: what a step could not handle, kept for the dead-letter stream.

Every step sends a record it cannot handle to its ``failed`` output instead of
dropping it. A failure record is a flat dict:

    {"stage": "normalize", "origin": "seeds/a.jsonl:12", "error": "ValueError: no title or text",
     "article_id": "", "payload": "{\"title\": ...}"}
"""

import json
import logging

from apache_beam.metrics import Metrics

__all__ = ["FAILED", "failure"]

FAILED = "failed"
_MAX_PAYLOAD_CHARS = 4000
_log = logging.getLogger(__name__)
_failures = Metrics.counter("newsmon", "failed")


def failure(stage, error, *, origin="", article_id="", payload=None):
    """A failure record for ``stage``; logs one line and counts it."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    if payload is not None and not isinstance(payload, str):
        payload = json.dumps(payload, ensure_ascii=False, default=str)
    _failures.inc()
    _log.warning("newsmon: %s failed for %s: %s", stage, origin or article_id or "a record", error)
    return {
        "stage": stage,
        "origin": origin,
        "error": str(error),
        "article_id": article_id,
        "payload": (payload or "")[:_MAX_PAYLOAD_CHARS],
    }
