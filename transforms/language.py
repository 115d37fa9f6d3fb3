"""DetectLanguage: every article gets the ISO 639-1 code of its language.

The detector is py3langid (a maintained fork of langid.py: a naive Bayes model
over byte n-grams of 97 languages, shipped inside the package, nothing
downloaded). It classifies the title and the first 2,000 characters of the
text in a few ms, ~4% of NER's cost per article (`python -m benchmarks.language`); lingua, the other
maintained choice, took 8-40 ms per article here and 50 s to load all its
models. Both made no mistake on the project's multilingual corpus, full
texts and one-sentence teasers alike (see ARCHITECTURE.md).

    detect_language("Die Bundesregierung verhängt neue Sanktionen gegen Russland.", detector)  ->  "de"

A text with too few letters to tell gets ``und`` (undetermined, ISO 639-2).
Which spaCy pipeline runs over an article depends on this code
(transforms/entities.py): never the English model over German.
"""

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

__all__ = ["UNDETERMINED", "DetectLanguage", "detect_language", "language_sample", "load_detector"]

UNDETERMINED = "und"
_SAMPLE_CHARS = 2000  # as accurate as the whole text on the corpus, and its cost no longer grows
_MIN_LETTERS = 12


class _DetectorHolder:
    """Lets Shared hold the detector (Shared needs a weak-referenceable object)."""

    def __init__(self, identifier):
        self.identifier = identifier


def load_detector():
    """py3langid's identifier over all its languages (loads in ~2 s; hold one per process)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def language_sample(article):
    """What the detector reads: the title, a line break, the start of the text."""
    return f"{article.get('title') or ''}\n{article.get('text') or ''}"[:_SAMPLE_CHARS]


def detect_language(text, detector):
    """The ISO 639-1 code of ``text``'s language, or ``und`` when it has too few letters."""
    if sum(1 for char in text[:_SAMPLE_CHARS] if char.isalpha()) < _MIN_LETTERS:
        return UNDETERMINED
    language, _ = detector.classify(text[:_SAMPLE_CHARS])
    return language


class _DetectLanguageFn(beam.DoFn):
    def __init__(self):
        self._shared = Shared()

    def setup(self):
        self._detector = self._shared.acquire(lambda: _DetectorHolder(load_detector()), tag="py3langid")
        self._counters = {}

    def process(self, article):
        language = detect_language(language_sample(article), self._detector.identifier)
        counter = self._counters.get(language)
        if counter is None:
            counter = self._counters[language] = Metrics.counter("language", language)
        counter.inc()
        yield {**article, "language": language}


class DetectLanguage(beam.PTransform):
    """Articles -> articles with ``language`` (``"en"``, ``"de"``, ..., or ``"und"``)."""

    def expand(self, articles):
        return articles | beam.ParDo(_DetectLanguageFn())
