"""The one rule language for topics and alert subscriptions.

A rule is a mapping of these fields (every one optional, but a rule must
have at least one condition):

    any:      [term, ...]            at least one of these occurs
    terms:    {LANG: [term, ...]}    per language: at least one of the terms for the article's
                                     language occurs (see "Languages" below)
    all:      [[term, ...], ...]     each group has a term that occurs ...
    within:   sentence | N           ... in one sentence, or within N tokens
    none:     [term, ...]            none of these occurs anywhere in the article
    entities: {LABEL: [name, ...]}   an entity of each label, with one of the names
    topics:   [topic, ...]           the article carries one of these topics (subscriptions)
    sources:  [source, ...]          the article comes from one of these sources
    min_hits: N                      at least N term occurrences count as evidence (for a
                                     rule without terms: N mentions of its entities)
    min_score: 0.0-1.0               the hit's score reaches this
    anyof:    [rule, ...]            alternatives: the rule matches if one of them does
                                     (fields beside anyof apply to every alternative; an
                                     alternative's own ``none`` adds to the shared one,
                                     any other field it sets replaces the shared one)
    description: text                for people; ignored by the matcher

A hit's score grows with its evidence: ``1 - 0.6 ** mentions``, where mentions
are the rule's term occurrences, or for a rule without terms the mentions of
its entities. A rule of topics only has neither, so ``min_hits`` and
``min_score`` are refused there.

Terms match whole words, case-insensitively, ignoring punctuation: ``"U.S."``
matches "U.S." and "u.s"; plurals are separate terms ("sanction", "sanctions").

Languages. A plain list of terms counts in an article of any language, as
before languages were detected. Where a list of terms goes (``any``, each
``all`` group, ``none``) a mapping of language codes to lists may go instead,
and ``terms: {en: [...], de: [...]}`` is ``any`` per language (beside a plain
``any``, both count): an article is matched with the lists for its language
(``article["language"]``, transforms/language.py), and where a mapping has no
list for it, with the mapping's ``en`` list (an article of unknown language
counts as English). A mapping without ``en`` is for its languages only:

    sanctions:
      terms: {en: [sanctions], de: [sanktionen], ru: [санкции, санкций]}
      none: [football]                 # a veto in every language

Such a rule compiles into one variant per language it names plus one for all
other languages, each indexed under its language, so an English article never
looks at German terms' rules.

``compile_rules`` turns any number of rules into one ``RuleMatcher``. Matching
an article walks one token trie built from every rule's terms, then evaluates
only the rules whose terms occurred (plus rules indexed by the article's
entities or topics), so 10,000 subscriptions cost about what 10 do.
``RuleMatcher.could_match`` decides the same rules before NER, as far as they
can be without entities (transforms/relevance.py).

    >>> matcher = compile_rules({"sanctions": {"any": ["sanctions"], "none": ["league"]}})
    >>> [hit.rule_id for hit in matcher.match("The EU imposed new sanctions.")]
    ['sanctions']
"""

import re
from collections import defaultdict
from dataclasses import dataclass

from transforms.text import analyze, term_tokens

__all__ = [
    "ENTITY_LABELS",
    "add_term",
    "find_terms",
    "Hit",
    "RuleError",
    "RuleMatcher",
    "compile_rules",
    "validate_rule_id",
]

ENTITY_LABELS = frozenset(
    "PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE "
    "DATE TIME PERCENT MONEY QUANTITY ORDINAL CARDINAL".split()
)
_FIELDS = frozenset(
    "any terms all none within entities topics sources min_hits min_score description anyof".split()
)
_RULE_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}")
_DEFAULT_LANGUAGE = "en"  # the list a mapping falls back to, and the language of an article without one
_MAX_EVIDENCE = 3
_MAX_EVIDENCE_CHARS = 400


class RuleError(ValueError):
    """A rule that cannot be compiled; the message names the rule and the field."""


@dataclass
class Hit:
    """One rule that matched one article, and why."""

    rule_id: str
    score: float
    terms: list
    evidence: list

    def to_dict(self):
        return {"id": self.rule_id, "score": self.score, "terms": self.terms, "evidence": self.evidence}


@dataclass(slots=True)
class _Rule:
    rule_id: str
    any_terms: tuple = ()
    all_groups: tuple = ()
    none_terms: tuple = ()
    within: object = None  # None, "sentence" or a token distance
    entities: tuple = ()  # ((label, frozenset of lower-cased names), ...)
    topics: frozenset = frozenset()
    sources: frozenset = frozenset()
    min_hits: int = 1
    min_score: float = 0.0
    spelling: dict = None  # term tokens -> the rule's spelling, where not the tokens joined by spaces
    languages: frozenset = None  # this variant is for these languages only (None: every language) ...
    other_languages: bool = False  # ... or, if set, for every language but these

    @property
    def has_terms(self):
        return bool(self.any_terms or self.all_groups)

    def applies_to(self, language):
        if self.languages is None:
            return True
        return (language not in self.languages) if self.other_languages else (language in self.languages)


def validate_rule_id(rule_id, kind="rule"):
    """Raise RuleError unless ``rule_id`` is safe as a Redis key part and a file name."""
    if not isinstance(rule_id, str) or not _RULE_ID_RE.fullmatch(rule_id):
        raise RuleError(
            f"{kind} name {rule_id!r}: use 1-64 lower-case letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )
    return rule_id


def _term_list(rule_id, name, value, spelling):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RuleError(f"rule {rule_id!r}: field {name!r}: expected a non-empty list of terms")
    keys = []
    for term in value:
        key = term_tokens(term) if isinstance(term, str) else ()
        if not key:
            raise RuleError(f"rule {rule_id!r}: field {name!r}: {term!r} is not a term with words")
        spelling.setdefault(key, term)  # the first spelling wins
        keys.append(key)
    return tuple(dict.fromkeys(keys))


def _parse_rule(rule_id, spec, kind):
    validate_rule_id(rule_id, kind)
    if not isinstance(spec, dict):
        raise RuleError(f"rule {rule_id!r}: expected a mapping of fields, got {type(spec).__name__}")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise RuleError(
            f"rule {rule_id!r}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS))})"
        )
    rule = _Rule(rule_id)
    spelling = {}
    any_terms = ()
    if "any" in spec:
        any_terms = _term_list(rule_id, "any", spec["any"], spelling)
    if "terms" in spec:
        any_terms = tuple(dict.fromkeys(any_terms + _term_list(rule_id, "terms", spec["terms"], spelling)))
    rule.any_terms = any_terms
    if "all" in spec:
        groups = spec["all"]
        if not isinstance(groups, list) or not groups:
            raise RuleError(f"rule {rule_id!r}: field 'all': expected a list of term groups")
        rule.all_groups = tuple(
            _term_list(rule_id, f"all[{i}]", group, spelling) for i, group in enumerate(groups)
        )
    if "none" in spec:
        rule.none_terms = _term_list(rule_id, "none", spec["none"], spelling)
    if "within" in spec:
        within = spec["within"]
        if within == "sentence" or (isinstance(within, int) and not isinstance(within, bool) and within > 0):
            rule.within = within
        else:
            raise RuleError(
                f"rule {rule_id!r}: field 'within': expected 'sentence' or a positive number"
                f" of tokens, got {within!r}"
            )
        if not rule.all_groups:
            raise RuleError(f"rule {rule_id!r}: field 'within' needs an 'all' list of term groups")
    if "entities" in spec:
        entities = spec["entities"]
        if not isinstance(entities, dict) or not entities:
            raise RuleError(f"rule {rule_id!r}: field 'entities': expected a mapping LABEL: [names]")
        parsed = []
        for label, names in entities.items():
            if label not in ENTITY_LABELS:
                raise RuleError(
                    f"rule {rule_id!r}: field 'entities': unknown entity label {label!r}"
                    f" (labels: {', '.join(sorted(ENTITY_LABELS))})"
                )
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and n.strip() for n in names
            ):
                raise RuleError(f"rule {rule_id!r}: field 'entities': {label} needs a list of names")
            parsed.append((label, frozenset(" ".join(n.lower().split()) for n in names)))
        rule.entities = tuple(parsed)
    for name in ("topics", "sources"):
        if name in spec:
            values = spec[name]
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise RuleError(f"rule {rule_id!r}: field {name!r}: expected a non-empty list of names")
            setattr(rule, name, frozenset(v.lower() for v in values))
    if rule.topics and kind == "topic":
        raise RuleError(f"rule {rule_id!r}: field 'topics': a topic cannot depend on other topics")
    if "min_hits" in spec:
        value = spec["min_hits"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RuleError(f"rule {rule_id!r}: field 'min_hits': expected a whole number >= 1, got {value!r}")
        rule.min_hits = value
    if "min_score" in spec:
        value = spec["min_score"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise RuleError(f"rule {rule_id!r}: field 'min_score': expected a number from 0 to 1, got {value!r}")
        rule.min_score = float(value)
    # Most terms are spelled as their tokens joined by spaces: keep only the others
    # (10,000 rules hold one small dict fewer each).
    rule.spelling = {key: term for key, term in spelling.items() if term != " ".join(key)} or None
    if not (rule.has_terms or rule.entities or rule.topics):
        raise RuleError(
            f"rule {rule_id!r}: empty rule: give at least one of 'any', 'terms', 'all', 'entities' or 'topics'"
        )
    if not (rule.has_terms or rule.entities):
        for name in ("min_hits", "min_score"):
            if name in spec:
                raise RuleError(
                    f"rule {rule_id!r}: field {name!r}: counts term occurrences or entity mentions,"
                    " and a rule of topics only has neither"
                )
    return rule


_TERM_FIELDS = ("any", "terms", "none")


def _per_language(rule_id, name, value):
    """Check a mapping of language codes to term lists; return its languages."""
    if not value:
        raise RuleError(f"rule {rule_id!r}: field {name!r}: expected a mapping of language codes to lists of terms")
    for language, terms in value.items():
        if not isinstance(language, str) or not _LANGUAGE_RE.fullmatch(language):
            raise RuleError(f"rule {rule_id!r}: field {name!r}: {language!r} is not a language code"
                            " (ISO 639-1, lower case: en, de, fr, ru ...)")
        _term_list(rule_id, f"{name}.{language}", terms, {})
    return set(value)


def _resolved(value, language):
    """The terms of a list or language mapping for ``language`` (None: the mapping's fallback)."""
    if not isinstance(value, dict):
        return value
    if language is not None and language in value:
        return value[language]
    return value.get(_DEFAULT_LANGUAGE)


def _language_variants(rule_id, spec):
    """``[(languages, other_languages, spec with plain lists)]``: the spec itself when no term
    field is a language mapping; else one variant per language named and one for the rest."""
    if not isinstance(spec, dict):
        return [(None, False, spec)]
    languages = set()
    for name in _TERM_FIELDS:
        if isinstance(spec.get(name), dict):
            languages |= _per_language(rule_id, name, spec[name])
    groups = spec.get("all")
    if isinstance(groups, list):
        for index, group in enumerate(groups):
            if isinstance(group, dict):
                languages |= _per_language(rule_id, f"all[{index}]", group)
    if not languages:
        return [(None, False, spec)]
    languages.discard(_DEFAULT_LANGUAGE)  # English is what the variant for the other languages uses
    variants = []
    for language in [*sorted(languages), None]:
        variant = dict(spec)
        for name in _TERM_FIELDS:
            if name in spec:
                terms = _resolved(spec[name], language)
                if terms:
                    variant[name] = terms
                else:
                    del variant[name]
        if ("any" in spec or "terms" in spec) and not ("any" in variant or "terms" in variant):
            continue  # no terms for this language: the variant can never match
        if isinstance(groups, list):
            variant["all"] = [_resolved(group, language) for group in groups]
            if not all(variant["all"]):
                continue
        if language is None:
            variants.append((frozenset(languages), True, variant) if languages else (None, False, variant))
        else:
            variants.append((frozenset({language}), False, variant))
    return variants


def _parse_languages(rule_id, spec, kind):
    """The rule's language variants (see _language_variants), parsed."""
    rules = []
    for languages, other_languages, variant in _language_variants(rule_id, spec):
        rule = _parse_rule(rule_id, variant, kind)
        rule.languages, rule.other_languages = languages, other_languages
        rules.append(rule)
    if not rules:
        raise RuleError(f"rule {rule_id!r}: no language has terms for every term condition"
                        " (give each language, or 'en', a list in 'any'/'terms' and every 'all' group)")
    return rules


def _parse_alternatives(rule_id, spec, kind):
    """A rule, or with ``anyof: [rule, ...]`` one rule per alternative (the other fields
    shared by all of them); the rule matches when one alternative does. Each of them
    may in turn be one variant per language (_language_variants)."""
    if not isinstance(spec, dict) or "anyof" not in spec:
        return _parse_languages(rule_id, spec, kind)
    alternatives = spec["anyof"]
    if not isinstance(alternatives, list) or not alternatives or not all(isinstance(a, dict) for a in alternatives):
        raise RuleError(f"rule {rule_id!r}: field 'anyof': expected a list of rules")
    shared = {k: v for k, v in spec.items() if k != "anyof"}
    rules = []
    for index, alternative in enumerate(alternatives):
        if "anyof" in alternative:
            raise RuleError(f"rule {rule_id!r}: field 'anyof[{index}]': alternatives do not nest")
        merged = {**shared, **alternative}
        if "none" in shared and "none" in alternative:  # both vetoes hold
            merged["none"] = _joined_vetoes(shared["none"], alternative["none"])
        try:
            rules.extend(_parse_languages(rule_id, merged, kind))
        except RuleError as error:
            raise RuleError(str(error).replace(f"rule {rule_id!r}:", f"rule {rule_id!r}: anyof[{index}]:", 1)) \
                from error
    return rules


def _as_list(value):
    return list(value) if isinstance(value, list) else [value]


def _joined_vetoes(shared, own):
    """Two ``none`` fields in one: lists joined, per language where either is a mapping."""
    if not isinstance(shared, dict) and not isinstance(own, dict):
        return _as_list(shared) + _as_list(own)
    languages = set(shared if isinstance(shared, dict) else ()) | set(own if isinstance(own, dict) else ())
    languages.add(_DEFAULT_LANGUAGE)
    joined = {}
    for language in languages:
        terms = _as_list(_resolved(shared, language) or []) + _as_list(_resolved(own, language) or [])
        if terms:
            joined[language] = terms
    return joined


def score_for(hits):
    """A score in (0, 1] that grows with the number of term occurrences found."""
    return 1.0 if hits == 0 else round(1 - 0.6**hits, 3)


class RuleMatcher:
    """All compiled rules of one kind, matched against an article in one pass."""

    def __init__(self, rules):
        self.rules = rules
        self._trie = {}
        self._rules_by_term = defaultdict(list)  # term -> rules for every language
        self._restricted = defaultdict(list)  # term -> rules for some languages (see _language_index)
        self._by_language = {}  # language -> {term: rules for it}, built on first use
        self._rules_by_entity = defaultdict(list)  # (label, name) -> rules without terms
        self._rules_by_name = defaultdict(list)  # name -> the same rules, before NER
        self._rules_by_topic = defaultdict(list)  # topic -> rules without terms or entities
        self._topics_by_rule = {rule.rule_id: rule.topics for rule in rules if rule.topics}
        for index, rule in enumerate(rules):
            terms = set(rule.any_terms) | set(rule.none_terms)
            for group in rule.all_groups:
                terms.update(group)
            by_term = self._rules_by_term if rule.languages is None else self._restricted
            for key in terms:
                self._add_term(key)
                if key not in rule.none_terms:
                    by_term[key].append(index)
            if not rule.has_terms:
                if rule.entities:
                    label, names = rule.entities[0]
                    for name in names:
                        self._rules_by_entity[(label, name)].append(index)
                        self._rules_by_name[name].append(index)
                else:
                    for topic in rule.topics:
                        self._rules_by_topic[topic].append(index)

    def _language_index(self, language):
        """{term: the language-bound rules (variants) for ``language`` with it}."""
        index = self._by_language.get(language)
        if index is None:
            index = {}
            for key, indexes in self._restricted.items():
                kept = [i for i in indexes if self.rules[i].applies_to(language)]
                if kept:
                    index[key] = kept
            if len(self._by_language) < 1000:  # language codes are few; a flood of odd ones is not kept
                self._by_language[language] = index
        return index

    def _term_candidates(self, found, language):
        """The rules that a term found in an article of ``language`` may satisfy."""
        candidates = set()
        for key in found:
            candidates.update(self._rules_by_term.get(key, ()))
        if self._restricted:
            index = self._language_index(language)
            for key in found:
                candidates.update(index.get(key, ()))
        return candidates

    def __len__(self):
        return len(self.rules)

    def topics_of(self, rule_id):
        """The topics a rule requires (empty for most rules)."""
        return self._topics_by_rule.get(rule_id, frozenset())

    @property
    def rule_ids(self):
        return [rule.rule_id for rule in self.rules]

    @property
    def entity_names(self):
        """Every entity name some rule asks for (lower-cased)."""
        return {name for rule in self.rules for _, names in rule.entities for name in names}

    def _add_term(self, key):
        add_term(self._trie, key)

    def find_terms(self, tokens):
        """Every occurrence of every term: {term tokens: [(first token, last token + 1), ...]}."""
        return find_terms(self._trie, tokens)

    def possible(self, analyzed, *, names=frozenset(), topics=(), source="", language=None):
        """The ids of the rules that may match once entities are known (see could_match)."""
        return {self.rules[index].rule_id
                for index in self._possible(analyzed, names, topics, source, language)}

    def could_match(self, analyzed, *, names=frozenset(), topics=(), source="", language=None):
        """True if some rule may match this article once its entities are known.

        Every condition but the entities is decided as ``match`` decides it
        (``all`` groups, ``within``, ``none``, ``topics``, ``sources``,
        ``min_hits`` and ``min_score`` on terms); an entity condition passes
        if one of its names occurs in the text: ``names`` are the lower-cased
        entity names found there (see transforms/relevance.py, which also
        counts alias variants). ``topics`` are the topics the article may carry,
        ``language`` its language (None: English).
        """
        return next(self._possible(analyzed, names, topics, source, language), None) is not None

    def _possible(self, analyzed, names, topics, source, language):
        """Indexes of the rules that may match, lazily."""
        language = language or _DEFAULT_LANGUAGE
        found = self.find_terms(analyzed.tokens)
        topic_ids = {t.lower() for t in topics}
        candidates = self._term_candidates(found, language)
        for name in names:
            candidates.update(self._rules_by_name.get(name, ()))
        for topic in topic_ids:
            candidates.update(self._rules_by_topic.get(topic, ()))

        def entity_mentions(label, rule_names):
            return None if rule_names & names else 0  # None: present, mentions unknown before NER

        return (index for index in candidates
                if self._evidence(self.rules[index], analyzed, found, entity_mentions, topic_ids, source,
                                  language) is not None)

    def match(self, text=None, *, entities=(), topics=(), source="", analyzed=None, language=None):
        """The hits of every rule on one article.

        ``entities`` are dicts with ``label``, ``canonical`` and ``count`` (as
        made by transforms.entities); ``topics`` the ids of topics the article
        carries. ``analyzed`` is ``analyze(text)`` if the caller has it already;
        ``language`` the article's language code (None: English), which picks
        the terms of rules that have some per language.
        """
        language = language or _DEFAULT_LANGUAGE
        analyzed = analyzed or analyze(text)
        found = self.find_terms(analyzed.tokens)
        entity_counts = defaultdict(int)
        for entity in entities:
            entity_counts[(entity["label"], " ".join(entity["canonical"].lower().split()))] += \
                entity.get("count", 1)
        topic_ids = {t.lower() for t in topics}
        candidates = self._term_candidates(found, language)
        for key in entity_counts:
            candidates.update(self._rules_by_entity.get(key, ()))
        for topic in topic_ids:
            candidates.update(self._rules_by_topic.get(topic, ()))

        def entity_mentions(label, names):
            return sum(entity_counts.get((label, name), 0) for name in names)

        hits = {}
        for index in sorted(candidates):
            rule = self.rules[index]
            evidence = self._evidence(rule, analyzed, found, entity_mentions, topic_ids, source, language)
            if evidence is None:
                continue
            hit = _hit(rule, analyzed, *evidence)
            previous = hits.get(hit.rule_id)
            if previous is None:
                hits[hit.rule_id] = hit
            else:  # another alternative of the same rule: one hit, all the evidence
                previous.score = max(previous.score, hit.score)
                previous.terms = list(dict.fromkeys(previous.terms + hit.terms))
                previous.evidence = list(dict.fromkeys(previous.evidence + hit.evidence))[:_MAX_EVIDENCE]
        return list(hits.values())

    @staticmethod
    def _evidence(rule, analyzed, found, entity_mentions, topic_ids, source, language):
        """``(spans, score)`` if the rule matches, else None.

        ``entity_mentions(label, names)`` counts the article's mentions of those
        entities; None means "present, count unknown" (before NER).
        """
        if rule.languages is not None and not rule.applies_to(language):
            return None
        if any(key in found for key in rule.none_terms):
            return None
        if rule.topics and not rule.topics & topic_ids:
            return None
        if rule.sources and (source or "").lower() not in rule.sources:
            return None
        mentions = 0
        for label, names in rule.entities:
            count = entity_mentions(label, names)
            if count == 0:
                return None
            mentions = None if count is None or mentions is None else mentions + count
        spans = []  # (first token, end token, term key) that count as evidence
        if rule.any_terms:
            spans = [(s, e, key) for key in rule.any_terms for s, e in found.get(key, ())]
            if not spans:
                return None
        if rule.all_groups:
            group_spans = _all_group_spans(rule, analyzed, found)
            if not group_spans:
                return None
            spans.extend(group_spans)
        if rule.has_terms:
            hits = _distinct_mentions(spans)
        elif rule.entities:
            if mentions is None:  # before NER: cannot tell yet
                return spans, 1.0
            hits = mentions
        else:  # topics only
            return spans, 1.0
        if hits < rule.min_hits:
            return None
        score = score_for(hits)
        if score < rule.min_score:
            return None
        return spans, score


def _hit(rule, analyzed, spans, score):
    spans.sort()
    spelling = rule.spelling or {}
    terms = list(dict.fromkeys(spelling.get(key) or " ".join(key) for _, _, key in spans))
    sentences = list(dict.fromkeys(analyzed.sentence_of[s] for s, _, _ in spans))
    evidence = [analyzed.sentence_text(i)[:_MAX_EVIDENCE_CHARS] for i in sentences[:_MAX_EVIDENCE]]
    return Hit(rule.rule_id, score, terms, evidence)


def add_term(trie, key):
    """Add a term (a tuple of tokens, see text.term_tokens) to a trie made of dicts."""
    node = trie
    for token in key:
        node = node.setdefault(token, {})
    node[""] = key


def find_terms(trie, tokens):
    """Every occurrence of every term of ``trie`` in ``tokens``:
    {term tokens: [(first token, last token + 1), ...]}."""
    found = defaultdict(list)
    for start, token in enumerate(tokens):
        node = trie.get(token)
        position = start
        while node is not None:
            position += 1
            key = node.get("")
            if key is not None:
                found[key].append((start, position))
            if position >= len(tokens):
                break
            node = node.get(tokens[position])
    return found


def _distinct_mentions(spans):
    """How many separate mentions the spans make: overlapping terms ("nord stream" inside
    "nord stream 2") are one mention."""
    mentions, end = 0, -1
    for start, stop, _ in sorted(spans):
        if start >= end:
            mentions += 1
        end = max(end, stop)
    return mentions


def _all_group_spans(rule, analyzed, found):
    """Occurrences satisfying every ``all`` group under the rule's ``within``, or []."""
    occurrences = []  # (start, end, key, group index)
    for group_index, group in enumerate(rule.all_groups):
        group_occurrences = [(s, e, key, group_index) for key in group for s, e in found.get(key, ())]
        if not group_occurrences:
            return []
        occurrences.extend(group_occurrences)
    groups = len(rule.all_groups)
    if rule.within is None:
        return [(s, e, key) for s, e, key, _ in occurrences]
    if rule.within == "sentence":
        by_sentence = defaultdict(list)
        for occurrence in occurrences:
            by_sentence[analyzed.sentence_of[occurrence[0]]].append(occurrence)
        return [
            (s, e, key)
            for members in by_sentence.values()
            if len({g for _, _, _, g in members}) == groups
            for s, e, key, _ in members
        ]
    # Token proximity: keep every occurrence inside some window of `within`
    # tokens that holds all groups.
    occurrences.sort()
    kept = set()
    for i, (start, _, _, _) in enumerate(occurrences):
        window = [o for o in occurrences[i:] if o[1] - start <= rule.within]
        if len({o[3] for o in window}) == groups:
            kept.update(window)
    return [(s, e, key) for s, e, key, _ in sorted(kept)]


def compile_rules(specs, *, kind="rule", known_topics=None):
    """Compile ``{rule id: spec}`` into a RuleMatcher; RuleError names the rule and field."""
    if not isinstance(specs, dict):
        raise RuleError(f"expected a mapping of {kind} names to rules, got {type(specs).__name__}")
    rules = [rule for rule_id, spec in specs.items() for rule in _parse_alternatives(rule_id, spec, kind)]
    if known_topics is not None:
        known = {t.lower() for t in known_topics}
        for rule in rules:
            unknown = sorted(rule.topics - known)
            if unknown:
                raise RuleError(
                    f"rule {rule.rule_id!r}: field 'topics': unknown topic {unknown[0]!r}"
                    f" (topics: {', '.join(sorted(known))})"
                )
    return RuleMatcher(rules)
