"""Tokens and sentences for rule matching, in plain Python.

The rule matcher needs lower-cased word tokens, their character offsets and
the sentence each one belongs to. spaCy's NER pipeline has no sentence
boundaries once the parser is excluded, and rules must also run before NER
(to preview a rule over an archive, or to skip NER on articles no rule can
match), so this module does both with two regular expressions.

    >>> analyze("Blinken met Lavrov. They spoke of U.S. sanctions.").sentence_texts()
    ['Blinken met Lavrov.', 'They spoke of U.S. sanctions.']

An article is analysed once: the first step that needs it (MarkRelevance, or
TagTopics without the prefilter) keeps the result under the article's
``analysis`` key, and the later steps reuse it (``analysis_of``). The sink
and the dead-letter records leave it out.
"""

import bisect
import re
from dataclasses import dataclass

__all__ = ["ANALYSIS", "AnalyzedText", "analysis_of", "analyze", "article_text", "term_tokens",
           "with_analysis", "without_analysis"]

ANALYSIS = "analysis"  # the article key that carries its AnalyzedText between steps

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)

# A sentence ends at . ! or ? (closing quotes or brackets may follow) before
# whitespace and a capital or digit (an opening quote may come first); or at a
# line break.
_SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?(\w))|\n+")

# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st gen col lt sgt capt adm cmdr maj gov sen rep rev
    jr sr inc corp ltd vs fig jan feb mar apr jun jul aug sep sept oct nov dec
    approx dept""".split()
)
_INITIALS_RE = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")


def term_tokens(term):
    """The token sequence a rule term matches: ``"Nord Stream-2"`` -> ``("nord", "stream", "2")``."""
    return tuple(match.group().lower() for match in _TOKEN_RE.finditer(term))


@dataclass
class AnalyzedText:
    """A text split into lower-cased tokens, each with its span and sentence."""

    text: str
    tokens: list
    starts: list
    ends: list
    sentence_of: list
    sentence_spans: list

    def sentence_text(self, index):
        start, end = self.sentence_spans[index]
        return " ".join(self.text[start:end].split())

    def sentence_texts(self):
        return [self.sentence_text(i) for i in range(len(self.sentence_spans))]


def _sentence_starts(text):
    starts = [0]
    for match in _SENTENCE_END_RE.finditer(text):
        following = match.group(1)
        if following is not None and not (following.isupper() or following.isdigit()):
            continue
        if match.group()[0] == ".":
            before = text[: match.start()].rsplit(None, 1)
            word = before[-1] if before else ""
            word = word.lstrip("\"'“‘(")
            if word.lower() in _ABBREVIATIONS or _INITIALS_RE.match(word):
                continue
        starts.append(match.end())
    return starts


def analyze(text):
    """Tokenize ``text`` and assign every token to a sentence."""
    tokens, starts, ends = [], [], []
    for match in _TOKEN_RE.finditer(text):
        tokens.append(match.group().lower())
        starts.append(match.start())
        ends.append(match.end())
    sentence_starts = _sentence_starts(text)
    sentence_of = [bisect.bisect_right(sentence_starts, s) - 1 for s in starts]
    spans = [
        (start, sentence_starts[i + 1] if i + 1 < len(sentence_starts) else len(text))
        for i, start in enumerate(sentence_starts)
    ]
    return AnalyzedText(text, tokens, starts, ends, sentence_of, spans)


def article_text(article):
    """The text rules match: the title, a line break, the body."""
    return f"{article['title']}\n{article['text']}"


def analysis_of(article):
    """The article's AnalyzedText: the one an earlier step kept, else a new one."""
    analyzed = article.get(ANALYSIS)
    return analyzed if analyzed is not None else analyze(article_text(article))


def with_analysis(article):
    """``(article carrying its analysis, the analysis)``."""
    analyzed = analysis_of(article)
    if article.get(ANALYSIS) is analyzed:
        return article, analyzed
    return {**article, ANALYSIS: analyzed}, analyzed


def without_analysis(article):
    """The article without the analysis an earlier step kept (for output and failure records)."""
    if ANALYSIS not in article:
        return article
    return {key: value for key, value in article.items() if key != ANALYSIS}
