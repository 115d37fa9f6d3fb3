"""How well the topic rules and the entity extraction do on a labelled corpus.

Pure functions: no Beam, no Redis, no spaCy. A labelled corpus is JSONL, one
article a line, with what a careful editor expects newsmon to find:

    {"id": "eval-001", "title": "...", "text": "...",
     "topics": ["arctic_militarization"],
     "entities": [{"name": "Northern Fleet", "label": "ORG"}, {"name": "Norway", "label": "GPE"}]}

``load_corpus`` reads and checks it; ``evaluate`` compares it with what the
pipeline made of the same articles (dicts with ``id``, ``topics`` as topic
hits and ``entities`` as canonical entities, as ``newsmon tag --json``
prints them); ``format_report`` gives the table ``newsmon eval CORPUS``
prints:

    Evaluated 3 articles.

    topic                       P      R     F1  support   TP   FP   FN
    arctic_militarization   1.000  0.500  0.667        2    1    0    1
    sanctions               0.500  1.000  0.667        1    1    1    0
    cyberattack               n/a    n/a    n/a        0    0    0    0
    macro F1 (2 topics)                   0.667

    key-entity recall         0.750  (3/4)
      ignoring the label      1.000  (4/4)

    Misses, expected topic not found (1):
      arctic_militarization  eval-002  Canada to build new radar chain in the far north

    False hits, topic found but not expected (1):
      sanctions              eval-003  Cricket board bans opener for ball tampering
        terms: sanctioned
        > The board sanctioned the opener on Friday.

    Missed key entities (1):
      eval-002  Northern Fleet (ORG): extracted as LOC

Precision is n/a for a topic that was never found, recall for a topic that
no article expects; F1 is ``2TP / (2TP + FP + FN)``, n/a only when all three
are zero, and the macro F1 averages the topics whose F1 is defined. A
labelled entity counts as found when some extracted entity has the same
canonical name (case-insensitively) and the same label; the recall ignoring
the label asks for the name only.
"""

import json
from dataclasses import asdict, dataclass, field

from transforms.rules import ENTITY_LABELS

__all__ = [
    "EntityMiss",
    "EntityScore",
    "FalseHit",
    "Miss",
    "Report",
    "TopicScore",
    "evaluate",
    "format_report",
    "load_corpus",
    "parse_article",
]

_TITLE_CHARS = 70
_EVIDENCE_CHARS = 240


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class TopicScore:
    """Counts of one topic over the corpus, and the scores they give."""

    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self):
        """How many articles the corpus expects this topic on."""
        return self.tp + self.fn

    @property
    def precision(self):
        """TP / (TP + FP), or None when the topic was never found."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self):
        """TP / (TP + FN), or None when no article expects the topic."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self):
        """2TP / (2TP + FP + FN): the harmonic mean of P and R, 0 when one of them is 0 or n/a."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def to_dict(self):
        return {"topic": self.topic, "precision": self.precision, "recall": self.recall, "f1": self.f1,
                "support": self.support, "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True)
class EntityScore:
    """Key-entity recall: labelled entities found with their label, and by name only; and
    key-entity precision: of the first k entities extracted (k the article's labelled key
    entities; entities come most mentioned first), how many are key entities with their label."""

    expected: int = 0
    found: int = 0
    found_any_label: int = 0
    top_found: int = 0

    @property
    def precision(self):
        return _ratio(self.top_found, self.expected)

    @property
    def recall(self):
        return _ratio(self.found, self.expected)

    @property
    def recall_any_label(self):
        return _ratio(self.found_any_label, self.expected)

    def to_dict(self):
        return {**asdict(self), "recall": self.recall, "recall_any_label": self.recall_any_label,
                "precision": self.precision}


@dataclass(frozen=True)
class Miss:
    """A topic the corpus expects on an article and the tagger did not find."""

    topic: str
    article_id: str
    title: str


@dataclass(frozen=True)
class FalseHit:
    """A topic the tagger found on an article that the corpus does not expect, with its evidence."""

    topic: str
    article_id: str
    title: str
    terms: tuple = ()
    evidence: tuple = ()


@dataclass(frozen=True)
class EntityMiss:
    """A labelled key entity not found with its label.

    ``extracted_as`` lists the labels it was found under with the same name;
    ``near`` the extracted ``(canonical, label)`` pairs sharing a word with it
    ("Blinken" for "Antony Blinken"): what an alias or the surname rule missed.
    """

    article_id: str
    name: str
    label: str
    extracted_as: tuple = ()
    near: tuple = ()


@dataclass
class Report:
    """Everything ``evaluate`` measured; ``format_report`` prints it, ``to_dict`` serializes it."""

    articles: int
    topics: list
    entities: EntityScore
    misses: list = field(default_factory=list)
    false_hits: list = field(default_factory=list)
    missed_entities: list = field(default_factory=list)
    untagged: list = field(default_factory=list)

    @property
    def macro_f1(self):
        """The mean F1 of the topics whose F1 is defined, or None if there is none."""
        scores = [t.f1 for t in self.topics if t.f1 is not None]
        return sum(scores) / len(scores) if scores else None

    def topic(self, topic_id):
        """The TopicScore of one topic (KeyError if the report has none)."""
        for score in self.topics:
            if score.topic == topic_id:
                return score
        raise KeyError(topic_id)

    def to_dict(self):
        return {
            "articles": self.articles,
            "topics": [t.to_dict() for t in self.topics],
            "macro_f1": self.macro_f1,
            "entities": self.entities.to_dict(),
            "misses": [asdict(m) for m in self.misses],
            "false_hits": [{**asdict(h), "terms": list(h.terms), "evidence": list(h.evidence)}
                           for h in self.false_hits],
            "missed_entities": [{**asdict(m), "extracted_as": list(m.extracted_as),
                                 "near": [list(n) for n in m.near]} for m in self.missed_entities],
            "untagged": list(self.untagged),
        }


# --- loading -------------------------------------------------------------------------------------


def parse_article(record, where="article"):
    """A checked corpus article from one decoded JSON value; ValueError says what is wrong and ``where``."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    article_id = record.get("id")
    if not isinstance(article_id, str) or not article_id.strip():
        raise ValueError(f"{where}: 'id' must be a non-empty string")
    where = f"{where} ({article_id})"
    title = record.get("title", "")
    if not isinstance(title, str):
        raise ValueError(f"{where}: 'title' must be a string")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: 'text' must be a non-empty string")
    topics = record.get("topics")
    if not isinstance(topics, list) or not all(isinstance(t, str) and t.strip() for t in topics):
        raise ValueError(f"{where}: 'topics' must be a list of topic ids (an empty list for none)")
    entities = record.get("entities", [])
    if not isinstance(entities, list):
        raise ValueError(f"{where}: 'entities' must be a list of {{\"name\", \"label\"}} objects")
    checked = []
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict):
            raise ValueError(f"{where}: entities[{index}] must be an object with 'name' and 'label'")
        name, label = entity.get("name"), entity.get("label")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: entities[{index}]: 'name' must be a non-empty string")
        if label not in ENTITY_LABELS:
            raise ValueError(f"{where}: entities[{index}] ({name}): label {label!r} is not one of"
                             f" {', '.join(sorted(ENTITY_LABELS))}")
        checked.append({"name": " ".join(name.split()), "label": label})
    return {**record, "id": article_id, "title": title, "text": text,
            "topics": list(dict.fromkeys(topics)), "entities": checked}


def load_corpus(path):
    """The articles of a labelled JSONL corpus, checked; ValueError names the file and the line."""
    articles, first_line = [], {}
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{path} line {number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{where}: not valid JSON: {error.msg} (column {error.colno})") from None
                article = parse_article(record, where)
                if article["id"] in first_line:
                    raise ValueError(f"{where}: duplicate id {article['id']!r}"
                                     f" (first on line {first_line[article['id']]})")
                first_line[article["id"]] = number
                articles.append(article)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the corpus: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text: {error.reason}") from error
    if not articles:
        raise ValueError(f"{path}: the corpus has no articles")
    return articles


# --- measuring -----------------------------------------------------------------------------------


def _topic_hits(tagged):
    """{topic id: hit dict} of a tagged article; a plain topic id counts as a hit without evidence."""
    hits = {}
    for hit in tagged.get("topics") or ():
        if isinstance(hit, str):
            hits.setdefault(hit, {"id": hit})
        else:
            hits.setdefault(hit["id"], hit)
    return hits


def _words(name):
    return {word for word in name.lower().replace(".", " ").split() if len(word) > 2}


def evaluate(corpus_articles, tagged_articles, topics=None):
    """Compare a labelled corpus with the tagged articles (matched by ``id``) and return a Report.

    ``topics`` (say the taxonomy's ids) fixes the rows of the table, so a
    topic nobody expects or finds still gets one; a corpus label outside it
    is a ValueError. A corpus article with no tagged article counts as one
    where nothing was found, and is listed in ``Report.untagged``.
    """
    corpus_articles = list(corpus_articles)
    tagged_by_id = {article["id"]: article for article in tagged_articles}
    known = list(dict.fromkeys(topics)) if topics is not None else None
    if known is not None:
        for article in corpus_articles:
            unknown = [t for t in article["topics"] if t not in known]
            if unknown:
                raise ValueError(f"article {article['id']}: unknown topic {unknown[0]!r}"
                                 f" (topics: {', '.join(known)})")
    counts = {}  # topic -> [tp, fp, fn]
    misses, false_hits, missed_entities, untagged = [], [], [], []
    expected_entities = found_entities = found_any_label = top_found = 0
    for article in corpus_articles:
        tagged = tagged_by_id.get(article["id"])
        if tagged is None:
            untagged.append(article["id"])
            tagged = {}
        expected = set(article["topics"])
        hits = _topic_hits(tagged)
        title = article.get("title", "")
        for topic in expected | set(hits):
            row = counts.setdefault(topic, [0, 0, 0])
            if topic in expected and topic in hits:
                row[0] += 1
            elif topic in hits:
                row[1] += 1
                hit = hits[topic]
                false_hits.append(FalseHit(topic, article["id"], title, tuple(hit.get("terms") or ()),
                                           tuple(hit.get("evidence") or ())))
            else:
                row[2] += 1
                misses.append(Miss(topic, article["id"], title))
        extracted = [(e["canonical"], e["label"]) for e in tagged.get("entities") or ()]
        labels_by_name = {}
        for canonical, label in extracted:
            labels_by_name.setdefault(canonical.lower(), []).append(label)
        keys = {(e["name"].lower(), e["label"]) for e in article["entities"]}
        top_found += sum(1 for canonical, label in extracted[:len(article["entities"])]
                         if (canonical.lower(), label) in keys)
        for entity in article["entities"]:
            expected_entities += 1
            name, label = entity["name"], entity["label"]
            labels = labels_by_name.get(name.lower(), [])
            if labels:
                found_any_label += 1
            if label in labels:
                found_entities += 1
                continue
            words = _words(name)
            near = () if labels else tuple(dict.fromkeys(
                (canonical, other) for canonical, other in extracted if words & _words(canonical)))
            missed_entities.append(EntityMiss(article["id"], name, label,
                                              tuple(dict.fromkeys(labels)), near))
    order = known if known is not None else []
    order = order + sorted(t for t in counts if t not in order)
    scores = [TopicScore(topic, *counts.get(topic, (0, 0, 0))) for topic in order]
    rank = {topic: i for i, topic in enumerate(order)}
    misses.sort(key=lambda m: rank[m.topic])
    false_hits.sort(key=lambda h: rank[h.topic])
    return Report(
        articles=len(corpus_articles),
        topics=scores,
        entities=EntityScore(expected_entities, found_entities, found_any_label, top_found),
        misses=misses,
        false_hits=false_hits,
        missed_entities=missed_entities,
        untagged=untagged,
    )


# --- printing ------------------------------------------------------------------------------------


def _figure(value):
    return "n/a" if value is None else f"{value:.3f}"


def _short(text, limit):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_report(report, *, details=True):
    """The plain-text report: the per-topic table, macro F1, entity recall and precision, then
    (unless ``details`` is False: figures only, for a held-out half) every miss and false hit."""
    width = max([len("topic")] + [len(t.topic) for t in report.topics])
    lines = [f"Evaluated {report.articles} articles."]
    if report.untagged:
        lines.append(f"Not tagged (counted as nothing found): {', '.join(report.untagged)}")
    lines += ["", f"{'topic':<{width}}  {'P':>6} {'R':>6} {'F1':>6}  {'support':>7} {'TP':>4} {'FP':>4} {'FN':>4}"]
    for t in report.topics:
        lines.append(f"{t.topic:<{width}}  {_figure(t.precision):>6} {_figure(t.recall):>6} {_figure(t.f1):>6}"
                     f"  {t.support:>7} {t.tp:>4} {t.fp:>4} {t.fn:>4}")
    defined = sum(1 for t in report.topics if t.f1 is not None)
    label = f"macro F1 ({defined} topic{'' if defined == 1 else 's'})"
    lines.append(f"{label:<{width + 16}}{_figure(report.macro_f1):>6}")
    e = report.entities
    lines += ["",
              f"{'key-entity recall':<24} {_figure(e.recall):>6}  ({e.found}/{e.expected})",
              f"{'  ignoring the label':<24} {_figure(e.recall_any_label):>6}  ({e.found_any_label}/{e.expected})",
              f"{'key-entity precision':<24} {_figure(e.precision):>6}  ({e.top_found}/{e.expected}"
              " of the first k extracted, k = key entities per article)"]
    if not details:
        return "\n".join(lines) + "\n"
    topic_width = max([len(m.topic) for m in report.misses] + [len(h.topic) for h in report.false_hits] + [0])
    lines += ["", f"Misses, expected topic not found ({len(report.misses)}):"]
    for miss in report.misses:
        lines.append(f"  {miss.topic:<{topic_width}}  {miss.article_id}  {_short(miss.title, _TITLE_CHARS)}")
    lines += ["", f"False hits, topic found but not expected ({len(report.false_hits)}):"]
    for hit in report.false_hits:
        lines.append(f"  {hit.topic:<{topic_width}}  {hit.article_id}  {_short(hit.title, _TITLE_CHARS)}")
        if hit.terms:
            lines.append(f"    terms: {', '.join(hit.terms)}")
        for sentence in hit.evidence:
            lines.append(f"    > {_short(sentence, _EVIDENCE_CHARS)}")
    lines += ["", f"Missed key entities ({len(report.missed_entities)}):"]
    for miss in report.missed_entities:
        if miss.extracted_as:
            why = f"extracted as {', '.join(miss.extracted_as)}"
        elif miss.near:
            why = "not extracted; near: " + ", ".join(f"{name} ({label})" for name, label in miss.near[:4])
        else:
            why = "not extracted"
        lines.append(f"  {miss.article_id}  {miss.name} ({miss.label}): {why}")
    return "\n".join(lines) + "\n"
