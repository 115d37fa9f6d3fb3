"""Stories: which articles report the same event, and the AssignStories step.

The pure part. Every article is reduced once to its features (no I/O), and
the decision is made against the few open stories the story index
(connectors/story_index.py) found as candidates:

    features = article_features(article, settings)
    decision = choose_story(features, candidates, settings)   # Decision("join", "3f2a…", "same_event", 0.61)

An article joins a story when it is

1. an exact duplicate: the same canonical URL, or the same normalised body
   text (the index looks these up by key; ``exact_keys``);
2. a near-duplicate: syndicated wire copy under another headline, or with a
   paragraph trimmed. MinHash (datasketch) over word 4-shingles of the body,
   cut into LSH bands; an article sharing enough bands with a story is a
   near-copy of one of its articles (``near_duplicate_bands``);
3. a report of the same event from another outlet: the cosine of its
   TF-IDF-weighted terms with the story's centroid, plus the overlap of their
   named entities, discounted by the time between the article and the story
   (half-life ``decay_hours``); only stories with an article within
   ``window_hours`` are open to it.

Otherwise it starts a story of its own, whose id is the article's id.

Term weights are inverse word frequencies in general English (wordfreq's
frequency list): "the" weighs 0, "sanctions" 3, a name no list knows 4.5, each raised to
``rarity_power`` (1.5) in the vector, so the rare words of an event count most.
They need no state, so every worker weighs alike and a replay weighs as the
first run did. See ARCHITECTURE.md for why MinHash and not SimHash.

The Beam step, AssignStories, sits after ExtractEntities and before
MatchSubscriptions; each article comes out with its ``story``:

    "story": {"id": "3f2a9c0d1e4b5a67", "status": "joined", "how": "near_duplicate",
              "articles": 4, "sources": 3, "new_entities": [["Norway", "GPE"]]}
"""

import hashlib
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cache, lru_cache

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.deadletter import FAILED, failure

__all__ = [
    "ArticleFeatures",
    "AssignStories",
    "Decision",
    "StoryCandidate",
    "StorySettings",
    "article_features",
    "article_time",
    "choose_story",
    "cosine",
    "entity_overlap",
    "same_event_score",
    "shingles",
    "story_growth",
    "story_tokens",
    "term_vector",
    "term_weight",
]


@dataclass(frozen=True)
class StorySettings:
    """How articles are compared. The defaults are the values tuned on the story corpus."""

    shingle_words: int = 4  # words per shingle for MinHash
    min_text_tokens: int = 12  # shorter bodies get no text key and no MinHash: too short to identify
    bands: int = 16  # LSH bands ...
    band_rows: int = 4  # ... of this many MinHash values: 64 permutations
    near_duplicate_bands: int = 3  # bands in common with a story that make a near-copy (Jaccard ~0.6)
    vector_terms: int = 40  # terms kept per article vector
    centroid_terms: int = 80  # terms kept per story centroid
    title_weight: float = 3.0  # a title word counts this many times
    rarity_power: float = 1.5  # term weight = (7 - zipf) ** rarity_power: >1 favours rare words
    posting_terms: int = 8  # an article's most weighty terms through which stories are found ...
    posting_entities: int = 6  # ... and its most frequent entities
    entity_weight: float = 0.25  # weight of entity overlap next to term cosine (1.0)
    threshold: float = 0.3  # same-event score needed to join a story
    window_hours: float = 336.0  # a story is open to articles this close to its first/last article
    decay_hours: float = 720.0  # half-life of the same-event score over the time gap
    full_text_terms: int = 25  # an article with fewer weighty terms (a feed teaser) needs more overlap
    candidates: int = 12  # stories scored per article
    posting_limit: int = 50  # most recent stories read per posting


DEFAULT_SETTINGS = StorySettings()


# --- words and their weights ---------------------------------------------------------------------

_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?|[^\W\d_]+", re.UNICODE)
_YEAR_RE = re.compile(r"^(?:19|20)\d\d$")
_MAX_ZIPF = 7.0  # words at least this frequent ("the", "of") weigh nothing
_UNKNOWN_ZIPF = 2.5  # a word missing from the frequency list (names, rare words)
_NUMBER_ZIPF = 4.0  # "14th", "8,000": event-specific, but numbers recur
_YEAR_ZIPF = 5.5
# Wire agencies in datelines and credits ("MOSCOW (Reuters) -"): they say who wrote, not what happened.
_AGENCY_WORDS = frozenset({"reuters", "afp", "ap", "bloomberg", "dpa", "upi", "efe", "ansa"})


@cache
def _word_frequencies(language="en"):
    """{word: frequency} of wordfreq's small list for ``language`` (~29k English words, 50 ms)."""
    import wordfreq

    return wordfreq.get_frequency_dict(language, wordlist="small")


def term_weight(word, frequencies=None):
    """How much a lower-cased word says about an article: ``7 - zipf``, clipped at 0.

    ``"the"`` -> 0.0, ``"said"`` -> ~1.0, ``"sanctions"`` -> ~3.0, an unknown name -> 4.5.
    """
    if word in _AGENCY_WORDS:
        return 0.0
    if word[0].isdigit():
        zipf = _YEAR_ZIPF if _YEAR_RE.match(word) else _NUMBER_ZIPF
    else:
        frequency = (frequencies if frequencies is not None else _word_frequencies()).get(word)
        zipf = math.log10(frequency) + 9 if frequency else _UNKNOWN_ZIPF
    return max(0.0, _MAX_ZIPF - zipf)


def story_tokens(text):
    """Lower-cased words and numbers of ``text``; single letters dropped.

    ``"Russia's 14th package: $8,000."`` -> ``["russia", "14th", "package", "8,000"]``
    """
    return [t for t in (m.group().lower() for m in _TOKEN_RE.finditer(text or ""))
            if len(t) > 1 or t.isdigit()]


def _term_key(word):
    """Plural and singular as one term: "sanctions" and "sanction" -> "sanction"."""
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")) and not word[0].isdigit():
        return word[:-1]
    return word


def term_vector(title_tokens, body_tokens, settings=DEFAULT_SETTINGS, frequencies=None):
    """``{term: weight}``, unit length, the ``vector_terms`` heaviest: sublinear TF times weight,
    a title word counting ``title_weight`` times."""
    if frequencies is None:
        frequencies = _word_frequencies()
    occurrences = Counter(body_tokens)
    for word in title_tokens:
        occurrences[word] += settings.title_weight
    counts, weights = {}, {}
    for word, count in occurrences.items():
        weight = term_weight(word, frequencies)
        if weight <= 0:
            continue
        key = _term_key(word)
        counts[key] = counts.get(key, 0.0) + count
        weights[key] = max(weights.get(key, 0.0), weight)
    power = settings.rarity_power
    vector = {key: (1.0 + math.log(count)) * weights[key] ** power for key, count in counts.items()}
    top = sorted(vector.items(), key=lambda item: (-item[1], item[0]))[:settings.vector_terms]
    norm = math.sqrt(sum(w * w for _, w in top))
    return {term: round(w / norm, 5) for term, w in top} if norm else {}


def cosine(vector, other):
    """Cosine of two sparse ``{term: weight}`` vectors; 0 when either is empty."""
    if len(other) < len(vector):
        vector, other = other, vector
    dot = sum(w * other.get(t, 0.0) for t, w in vector.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(w * w for w in vector.values())) * math.sqrt(sum(w * w for w in other.values()))
    return dot / norm


# --- near-duplicates -----------------------------------------------------------------------------


def shingles(tokens, size):
    """The distinct word ``size``-grams of ``tokens`` (fewer tokens than that: the text as one shingle)."""
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)}


def _crc32(data):
    return zlib.crc32(data)


@lru_cache(maxsize=8)
def _minhash_permutations(num_perm):
    from datasketch import MinHash

    template = MinHash(num_perm=num_perm, seed=1, hashfunc=_crc32)
    return template.permutations, template.scheme


def minhash_bands(shingle_set, settings=DEFAULT_SETTINGS):
    """The LSH band keys of a set of shingles: ``bands`` strings ``"<band>:<8 hex digits>"``."""
    from datasketch import MinHash

    num_perm = settings.bands * settings.band_rows
    permutations, scheme = _minhash_permutations(num_perm)
    minhash = MinHash(num_perm=num_perm, hashfunc=_crc32, permutations=permutations, scheme=scheme)
    minhash.update_batch([s.encode("utf-8") for s in shingle_set])
    values = minhash.hashvalues
    rows = settings.band_rows
    return tuple(f"{band}:{zlib.crc32(values[band * rows:(band + 1) * rows].tobytes()):08x}"
                 for band in range(settings.bands))


# --- articles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleFeatures:
    """What story assignment knows of one article."""

    article_id: str
    time: float  # epoch seconds: published, else when it was seen
    title: str = ""
    url: str = ""
    source: str = ""
    published: str = ""
    url_key: str = None  # hash of the canonical URL
    text_key: str = None  # hash of the normalised body text (None when too short)
    bands: tuple = ()  # MinHash LSH band keys (none when too short)
    vector: dict = field(default_factory=dict)  # {term: weight}, unit length
    entities: tuple = ()  # ((name, label), ...), most mentioned first
    mentions: dict = field(default_factory=dict)  # {lower-cased name: mentions in the article}
    postings: tuple = ()  # index keys through which candidate stories are found
    topics: tuple = ()

    def entity_names(self):
        return set(self.mentions)


def article_time(article, now):
    """Epoch seconds of the article's ``published`` (UTC ISO), else ``now``."""
    published = article.get("published") or ""
    if published:
        try:
            return datetime.strptime(published, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            pass
    return float(now)


def _digest(kind, value):
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:16]


def exact_keys(article, body_tokens, settings=DEFAULT_SETTINGS):
    """``(url key, text key)``: hashes of the canonical URL and of the normalised body (None if absent
    or shorter than ``min_text_tokens`` words: a one-word body identifies nothing)."""
    url_key = _digest("url", article["url"]) if article.get("url") else None
    text_key = _digest("text", " ".join(body_tokens)) if len(body_tokens) >= settings.min_text_tokens else None
    return url_key, text_key


# Entities that say nothing about which event an article reports: nationalities ("Russian",
# "American") and the wire agencies named in datelines and credits.
_UNTELLING_LABELS = frozenset({"NORP"})
_WIRE_AGENCIES = frozenset({
    "ap", "associated press", "the associated press", "reuters", "thomson reuters", "afp", "agence france-presse",
    "agence france presse", "bloomberg", "dpa", "upi", "efe", "ansa",
})


def _telling(entity):
    name = (entity.get("canonical") or "").strip()
    return bool(name) and entity.get("label") not in _UNTELLING_LABELS and name.lower() not in _WIRE_AGENCIES


def article_features(article, now, settings=DEFAULT_SETTINGS, frequencies=None):
    """The features of a normalised (and possibly NER-tagged) article; never raises on odd text."""
    title_tokens = story_tokens(article.get("title", ""))
    body_tokens = story_tokens(article.get("text", ""))
    url_key, text_key = exact_keys(article, body_tokens, settings)
    bands = ()
    if len(body_tokens) >= settings.min_text_tokens:
        bands = minhash_bands(shingles(body_tokens, settings.shingle_words), settings)
    vector = term_vector(title_tokens, body_tokens, settings, frequencies)
    entities = sorted(((e.get("count", 1), e["canonical"], e["label"]) for e in article.get("entities", ())
                       if _telling(e)), key=lambda e: (-e[0], e[1]))
    mentions = {}
    for count, name, _ in entities:
        mentions[name.lower()] = mentions.get(name.lower(), 0) + count
    entities = tuple((name, label) for _, name, label in entities)
    postings = tuple(f"t:{term}" for term in list(vector)[:settings.posting_terms])
    postings += tuple(dict.fromkeys(f"e:{name.lower()}" for name, _ in entities[:settings.posting_entities]))
    return ArticleFeatures(
        article_id=article["id"],
        time=article_time(article, now),
        title=article.get("title", ""),
        url=article.get("url", ""),
        source=article.get("source", ""),
        published=article.get("published", ""),
        url_key=url_key,
        text_key=text_key,
        bands=bands,
        vector=vector,
        entities=entities,
        mentions=mentions,
        postings=postings,
        topics=tuple(t["id"] if isinstance(t, dict) else t for t in article.get("topics", ())),
    )


# --- the decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryCandidate:
    """An open story as the index sees it."""

    story_id: str
    first: float  # epoch seconds of its earliest and latest article
    last: float
    centroid: dict = field(default_factory=dict)  # {term: summed weight}
    entities: dict = field(default_factory=dict)  # {lower-cased name: mentions over its articles}
    band_hits: int = 0  # LSH bands the article shares with it

    def gap_hours(self, time):
        """Hours between ``time`` and the story's span (0 inside it)."""
        return max(0.0, self.first - time, time - self.last) / 3600.0


@dataclass(frozen=True)
class Decision:
    """``action`` is "join" (``story_id``) or "new"; ``how`` says why; ``score`` the same-event score."""

    action: str
    story_id: str = None
    how: str = "new"
    score: float = 0.0


def entity_overlap(article_mentions, story_entities):
    """Share of the article's entity mentions ({lower-cased name: mentions}, or a set of names)
    whose entity the story knows: what the article is most about counts most. 0 without entities."""
    if not article_mentions or not story_entities:
        return 0.0
    if not isinstance(article_mentions, dict):
        article_mentions = dict.fromkeys(article_mentions, 1)
    shared = sum(count for name, count in article_mentions.items() if name in story_entities)
    return shared / sum(article_mentions.values())


def same_event_score(features, candidate, settings=DEFAULT_SETTINGS):
    """Term cosine plus weighted entity overlap, halved every ``decay_hours`` of time gap, and scaled
    down for an article of fewer than ``full_text_terms`` terms: a headline and a sentence about
    "Nord Stream" share a name with every other such teaser, not an event. (A wrong merge hides an
    alert; a wrong split costs one more: when unsure, keep apart.)"""
    similarity = cosine(features.vector, candidate.centroid)
    if features.mentions and candidate.entities:
        similarity = (similarity + settings.entity_weight * entity_overlap(features.mentions, candidate.entities)) \
            / (1.0 + settings.entity_weight)
    shortness = min(1.0, len(features.vector) / settings.full_text_terms)
    return similarity * shortness * 0.5 ** (candidate.gap_hours(features.time) / settings.decay_hours)


def choose_story(features, candidates, settings=DEFAULT_SETTINGS):
    """Join the open candidate that is a near-copy (most bands shared), else the best same-event
    score at or above ``threshold``, else start a new story."""
    open_ = [c for c in candidates if c.gap_hours(features.time) <= settings.window_hours]
    copies = [c for c in open_ if c.band_hits >= settings.near_duplicate_bands]
    if copies:
        best = max(copies, key=lambda c: (c.band_hits, -c.gap_hours(features.time), c.story_id))
        return Decision("join", best.story_id, "near_duplicate", 1.0)
    best, best_score = None, 0.0
    for candidate in open_:
        score = same_event_score(features, candidate, settings)
        if score > best_score or (score == best_score and best is not None and candidate.story_id < best.story_id):
            best, best_score = candidate, score
    if best is not None and best_score >= settings.threshold:
        return Decision("join", best.story_id, "same_event", round(best_score, 4))
    return Decision("new", features.article_id, "new", round(best_score, 4))


def story_growth(story, update_on):
    """``[(marker, reason), ...]``: the growth of a story (an article's ``story``) a subscription asked
    to hear about (``update_on`` of transforms.subscriptions.delivery_of).

    The highest source count reached (``("sources:3", "3 sources")``), and each country or entity
    this article brought to the story (``("country:norway", "new country: Norway")``). The sink
    alerts an update once per marker and story.
    """
    if not story or not update_on:
        return []
    growth = []
    reached = [n for n in update_on.get("sources") or () if story.get("sources", 0) >= n]
    if reached:
        growth.append((f"sources:{reached[-1]}", f"{story['sources']} sources"))
    for name, label in story.get("new_entities") or ():
        if label == "GPE" and update_on.get("countries"):
            growth.append((f"country:{name.lower()}", f"new country: {name}"))
        elif update_on.get("entities"):
            growth.append((f"entity:{name.lower()}", f"new {label} entity: {name}"))
    return growth


def with_settings(**changes):
    """The default settings with some values changed (for tuning and tests)."""
    return replace(DEFAULT_SETTINGS, **changes)


# --- the Beam step -------------------------------------------------------------------------------


class _AssignStoriesFn(beam.DoFn):
    def __init__(self, redis_url, prefix, retry_seconds, settings, ttl_seconds, clock):
        self._redis_url = redis_url
        self._prefix = prefix
        self._retry_seconds = retry_seconds
        self._settings = settings
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def setup(self):
        from connectors.story_index import StoryIndex

        self._index = StoryIndex.from_url(self._redis_url, prefix=self._prefix, settings=self._settings,
                                          ttl_seconds=self._ttl_seconds, retry_seconds=self._retry_seconds)
        self._frequencies = _word_frequencies()
        self._counters = {}

    def teardown(self):
        index = getattr(self, "_index", None)
        if index is not None:
            index.close()

    def _count(self, how):
        counter = self._counters.get(how)
        if counter is None:
            counter = self._counters[how] = Metrics.counter("stories", how)
        counter.inc()

    def process(self, article):
        try:
            features = article_features(article, self._clock(), self._settings, self._frequencies)
        except Exception as error:  # noqa: BLE001 - any failure goes to the dead letters
            yield beam.pvalue.TaggedOutput(FAILED, failure(
                "stories", error, origin=article.get("origin", ""), article_id=article.get("id", "")))
            return
        # Redis errors are retried inside assign() and, past the retry time, fail the run like the sink.
        assignment = self._index.assign(features)
        self._count(assignment.how if assignment.status != "assigned" else "already_assigned")
        yield {**article, "story": assignment.to_dict()}


def _wall_clock():
    import time

    return time.time()


class AssignStories(beam.PTransform):
    """Articles -> articles with their ``story``; outputs ``articles`` and ``failed``.

    Story state is shared in Redis (connectors/story_index.py), so any number of
    workers assign consistently, and a replay finds the stories it made before.
    """

    def __init__(self, redis_url, *, prefix="newsmon:", retry_seconds=60, settings=DEFAULT_SETTINGS,
                 ttl_seconds=None, clock=_wall_clock):
        super().__init__()
        if not redis_url:
            raise ValueError("AssignStories needs a Redis URL")
        from connectors.story_index import DEFAULT_TTL_SECONDS

        self._args = (redis_url, prefix, retry_seconds, settings, ttl_seconds or DEFAULT_TTL_SECONDS, clock)

    def expand(self, articles):
        return articles | beam.ParDo(_AssignStoriesFn(*self._args)).with_outputs(FAILED, main="articles")
