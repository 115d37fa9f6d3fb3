"""The one ``--json`` shape of an article, whichever command prints it: typed JSON, one object per line.

    {"id": "017656e672ceb3e7", "title": "…", "url": "…", "source": "…", "published": "2021-05-18T07:30:00Z",
     "origin": "seeds/a.txt", "language": "en", "story": "…",
     "topics":   [{"id": "sanctions", "score": 0.784, "terms": ["sanctions"], "evidence": ["…"]}],
     "entities": [{"canonical": "Antony Blinken", "label": "PERSON", …}],
     "alerts":   [{"id": "nord-stream", "score": 0.4, "terms": ["nord stream"], "evidence": ["…"]}]}

``tag`` prints it with no alerts, ``rules test`` with the alerts of the rules
tested, ``alerts show|tail`` one per alert entry, with that alert alone and
two more keys: ``entry`` (the stream entry id) and ``subscription``. Numbers
are numbers and lists are lists (an alert entry's flat Redis fields decoded).
"""

import json

__all__ = ["ARTICLE_KEYS", "alert_entry_json", "article_json", "print_json_line"]

ARTICLE_KEYS = ("id", "title", "url", "source", "published", "origin", "language", "story")


def article_json(article):
    """A tagged article (pipeline/tag.py) in the --json shape."""
    story = article.get("story") or ""
    shape = {**{key: article.get(key) or "" for key in ARTICLE_KEYS},
             "story": story.get("id", "") if isinstance(story, dict) else story,
             "topics": list(article.get("topics", ())), "entities": list(article.get("entities", ())),
             "alerts": list(article.get("alerts", ()))}
    if article.get("text_source"):  # which text was tagged: feed, teaser or fulltext (connectors/pages.py)
        shape["text_source"] = article["text_source"]
    return shape


def _decoded(fields, name):
    try:
        return json.loads(fields.get(name) or "[]")
    except ValueError:
        return []


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def alert_entry_json(entry_id, fields):
    """An alert stream entry (connectors/redis_streams.alert_fields) in the --json shape."""
    alert = {"id": fields.get("subscription", ""), "score": _number(fields.get("score")),
             "terms": _decoded(fields, "terms"), "evidence": _decoded(fields, "evidence")}
    return {"entry": entry_id, "subscription": alert["id"], **{key: fields.get(key, "") for key in ARTICLE_KEYS},
            "topics": _decoded(fields, "topics"), "entities": _decoded(fields, "entities"), "alerts": [alert]}


def print_json_line(value):
    print(json.dumps(value, ensure_ascii=False), flush=True)
