"""How well articles are grouped into stories, against a labelled corpus.

Pure functions: no Redis, no spaCy. A story corpus is JSONL, one article a line
(tests/fixtures/stories/README.md describes the one we keep):

    {"id": "story-001", "title": "...", "text": "...", "url": "...", "source": "afp.com",
     "published": "2022-03-14T10:05:00Z", "story": "2022-03-cold-response-norway", "split": "tune",
     "near_duplicate_of": "story-000"}                                  # the last one optional

``cluster_scores`` compares a clustering with the labels (pairwise and
B-cubed precision, recall and F1), ``near_duplicate_scores`` the copies
newsmon recognised with the ones labelled, ``story_errors`` lists the stories
split apart and the stories merged, and ``tfidf_baseline`` is the yardstick:
plain TF-IDF cosine, online, against cluster centroids, with and without a
time window. ``format_story_report`` prints what ``newsmon eval --stories``
shows:

    split     articles stories  pairwise P    R     F1   B-cubed P    R     F1
    tune            81      32       0.989 0.978 0.983       0.994 0.988 0.991
    ...
"""

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from transforms.stories import story_tokens

__all__ = [
    "ClusterScores",
    "NearDuplicateScores",
    "StoryErrors",
    "cluster_scores",
    "format_story_report",
    "load_story_corpus",
    "near_duplicate_scores",
    "story_errors",
    "tfidf_baseline",
]

COPY_HOWS = frozenset({"same_url", "same_text", "near_duplicate"})
_TITLE_CHARS = 64


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def _f1(precision, recall):
    if precision is None or recall is None or precision + recall == 0:
        return None
    return 2 * precision * recall / (precision + recall)


# --- loading -------------------------------------------------------------------------------------


def load_story_corpus(path):
    """The articles of a story corpus, checked; ValueError names the file, the line and the field."""
    articles, seen = [], {}
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
                if not isinstance(record, dict):
                    raise ValueError(f"{where}: expected a JSON object")
                for name in ("id", "story"):
                    if not isinstance(record.get(name), str) or not record[name].strip():
                        raise ValueError(f"{where}: '{name}' must be a non-empty string")
                for name in ("title", "text", "url", "source", "published", "split"):
                    if not isinstance(record.get(name, ""), str):
                        raise ValueError(f"{where} ({record['id']}): '{name}' must be a string")
                if record["id"] in seen:
                    raise ValueError(f"{where}: duplicate id {record['id']!r} (first on line {seen[record['id']]})")
                seen[record["id"]] = number
                articles.append(record)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the corpus: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text: {error.reason}") from error
    if not articles:
        raise ValueError(f"{path}: the corpus has no articles")
    for article in articles:
        original = article.get("near_duplicate_of")
        if original is not None and original not in seen:
            raise ValueError(f"{path}: {article['id']}: near_duplicate_of {original!r} is not in the corpus")
    return articles


def in_time_order(articles):
    """The articles as a feed would bring them: by published time, then id."""
    return sorted(articles, key=lambda a: (a.get("published") or "", a["id"]))


# --- scores --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterScores:
    """Pairwise counts (pairs of articles put together / labelled together) and B-cubed averages."""

    articles: int
    stories: int  # labelled
    clusters: int  # predicted
    pairs_tp: int
    pairs_fp: int
    pairs_fn: int
    bcubed_precision: float
    bcubed_recall: float

    @property
    def pairwise_precision(self):
        return _ratio(self.pairs_tp, self.pairs_tp + self.pairs_fp)

    @property
    def pairwise_recall(self):
        return _ratio(self.pairs_tp, self.pairs_tp + self.pairs_fn)

    @property
    def pairwise_f1(self):
        return _ratio(2 * self.pairs_tp, 2 * self.pairs_tp + self.pairs_fp + self.pairs_fn)

    @property
    def bcubed_f1(self):
        return _f1(self.bcubed_precision, self.bcubed_recall)

    def to_dict(self):
        return {**asdict(self), "pairwise_precision": self.pairwise_precision,
                "pairwise_recall": self.pairwise_recall, "pairwise_f1": self.pairwise_f1,
                "bcubed_f1": self.bcubed_f1}


def _pairs(size):
    return size * (size - 1) // 2


def cluster_scores(gold, predicted):
    """Scores of ``predicted`` ({article id: cluster}) against ``gold`` ({article id: story label}).

    Pairwise: TP are pairs in one cluster and one story, FP pairs in one cluster but two
    stories, FN pairs in one story but two clusters. B-cubed: per article, the share of its
    cluster that is of its story (precision) and of its story that is in its cluster (recall),
    averaged over the articles. An article missing from ``predicted`` is a cluster of its own.
    """
    predicted = {article: predicted.get(article, ("alone", article)) for article in gold}
    both = Counter((gold[a], predicted[a]) for a in gold)
    gold_sizes = Counter(gold.values())
    cluster_sizes = Counter(predicted.values())
    together = sum(_pairs(n) for n in both.values())
    precision = recall = 0.0
    for (story, cluster), n in both.items():
        precision += n * n / cluster_sizes[cluster]
        recall += n * n / gold_sizes[story]
    count = len(gold)
    return ClusterScores(
        articles=count, stories=len(gold_sizes), clusters=len(cluster_sizes),
        pairs_tp=together,
        pairs_fp=sum(_pairs(n) for n in cluster_sizes.values()) - together,
        pairs_fn=sum(_pairs(n) for n in gold_sizes.values()) - together,
        bcubed_precision=precision / count if count else 0.0,
        bcubed_recall=recall / count if count else 0.0,
    )


@dataclass(frozen=True)
class NearDuplicateScores:
    """Copies newsmon recognised (joined by same URL, same text or MinHash), against the labels.

    ``precision``: of the articles joined as a copy, the share that joined a story holding another
    article of their own labelled story. ``recall``: of the labelled copies, the share put in the
    story of their original; ``detected``: the share of those joined as a copy (not by similarity).
    """

    joined_as_copy: int
    correct: int
    labelled: int
    with_original: int
    detected: int
    wrong: tuple = ()  # article ids joined as a copy of another story

    @property
    def precision(self):
        return _ratio(self.correct, self.joined_as_copy)

    @property
    def recall(self):
        return _ratio(self.with_original, self.labelled)

    def to_dict(self):
        return {**asdict(self), "wrong": list(self.wrong), "precision": self.precision, "recall": self.recall}


def near_duplicate_scores(articles, predicted, how):
    """``predicted``: {article id: cluster}; ``how``: {article id: how it joined}."""
    gold = {a["id"]: a["story"] for a in articles}
    mates = Counter((predicted.get(a), gold[a]) for a in gold)
    copies = [a for a in gold if how.get(a) in COPY_HOWS]
    wrong = tuple(a for a in copies if mates[(predicted.get(a), gold[a])] < 2)
    labelled = [a for a in articles if a.get("near_duplicate_of")]
    with_original = [a for a in labelled if predicted.get(a["id"]) == predicted.get(a["near_duplicate_of"])]
    detected = [a for a in with_original if how.get(a["id"]) in COPY_HOWS]
    return NearDuplicateScores(len(copies), len(copies) - len(wrong), len(labelled), len(with_original),
                               len(detected), wrong)


@dataclass(frozen=True)
class StoryErrors:
    """``split``: labelled stories spread over several clusters, as lists of article ids per cluster;
    ``merged``: clusters holding several labelled stories, as ``{story: [article ids]}``."""

    split: dict = field(default_factory=dict)
    merged: dict = field(default_factory=dict)


def story_errors(gold, predicted):
    by_story, by_cluster = defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list))
    for article in sorted(gold):
        by_story[gold[article]][predicted.get(article, article)].append(article)
        by_cluster[predicted.get(article, article)][gold[article]].append(article)
    split = {story: sorted(clusters.values()) for story, clusters in sorted(by_story.items()) if len(clusters) > 1}
    merged = {cluster: dict(stories) for cluster, stories in sorted(by_cluster.items()) if len(stories) > 1}
    return StoryErrors(split, merged)


# --- the baseline --------------------------------------------------------------------------------


def _epoch(published):
    try:
        return datetime.strptime(published, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def tfidf_baseline(articles, threshold, window_days=None):
    """{article id: cluster}: plain TF-IDF cosine, single pass in time order.

    IDF from the articles themselves (``log((1 + N) / (1 + df)) + 1``), raw term counts of title
    and text, unit vectors; each article joins the cluster whose centroid is most similar if
    the cosine reaches ``threshold``, else starts one. With ``window_days``, only clusters with
    an article within that many days are open.
    """
    ordered = in_time_order(articles)
    tokens = {a["id"]: story_tokens(f"{a.get('title', '')}\n{a.get('text', '')}") for a in ordered}
    df = Counter(term for a in ordered for term in set(tokens[a["id"]]))
    n = len(ordered)
    idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}
    clusters = []  # [id, centroid {term: weight}, first, last]
    assignment = {}
    for article in ordered:
        counts = Counter(tokens[article["id"]])
        vector = {t: c * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        vector = {t: w / norm for t, w in vector.items()}
        when = _epoch(article.get("published"))
        best, best_score = None, 0.0
        for cluster in clusters:
            if window_days is not None and when is not None and cluster[2] is not None:
                gap = max(0.0, cluster[2] - when, when - cluster[3])
                if gap > window_days * 86400:
                    continue
            centroid = cluster[1]
            norm = math.sqrt(sum(w * w for w in centroid.values())) or 1.0
            score = sum(w * centroid.get(t, 0.0) for t, w in vector.items()) / norm
            if score > best_score:
                best, best_score = cluster, score
        if best is not None and best_score >= threshold:
            for t, w in vector.items():
                best[1][t] = best[1].get(t, 0.0) + w
            if when is not None and best[2] is not None:
                best[2], best[3] = min(best[2], when), max(best[3], when)
            assignment[article["id"]] = best[0]
        else:
            clusters.append([article["id"], dict(vector), when, when])
            assignment[article["id"]] = article["id"]
    return assignment


def best_baseline_threshold(articles, window_days=None, thresholds=None):
    """The threshold (0.05 … 0.95) with the best pairwise F1 on ``articles``: tune on one half only."""
    gold = {a["id"]: a["story"] for a in articles}
    thresholds = thresholds or [round(0.05 * i, 2) for i in range(1, 20)]
    return max(thresholds, key=lambda t: (cluster_scores(gold, tfidf_baseline(articles, t, window_days))
                                          .pairwise_f1 or 0.0, -t))


# --- printing ------------------------------------------------------------------------------------


def _figure(value):
    return "  n/a" if value is None else f"{value:.3f}"


def _short(text, limit=_TITLE_CHARS):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_story_report(rows, near_duplicates, errors, titles, notes=()):
    """``rows``: [(split, method, ClusterScores)]; ``near_duplicates``: {split: NearDuplicateScores};
    ``errors``: {split: StoryErrors}; ``titles``: {article id: title}."""
    lines = [f"{'split':<8} {'method':<34} {'articles':>8} {'stories':>7} {'clusters':>8}"
             f"   {'pairwise P':>10} {'R':>6} {'F1':>6}   {'B-cubed P':>9} {'R':>6} {'F1':>6}"]
    for split, method, s in rows:
        lines.append(f"{split:<8} {method:<34} {s.articles:>8} {s.stories:>7} {s.clusters:>8}"
                     f"   {_figure(s.pairwise_precision):>10} {_figure(s.pairwise_recall):>6}"
                     f" {_figure(s.pairwise_f1):>6}   {_figure(s.bcubed_precision):>9}"
                     f" {_figure(s.bcubed_recall):>6} {_figure(s.bcubed_f1):>6}")
    lines.append("")
    lines.append("Pairs: TP / FP / FN  " + "   ".join(
        f"{split} {method.split()[0]}: {s.pairs_tp}/{s.pairs_fp}/{s.pairs_fn}" for split, method, s in rows
        if method.startswith("newsmon")))
    for split, nd in near_duplicates.items():
        lines.append(f"Near-duplicates, {split}: precision {_figure(nd.precision).strip()}"
                     f" ({nd.correct}/{nd.joined_as_copy} joined as a copy were right);"
                     f" recall {_figure(nd.recall).strip()} ({nd.with_original}/{nd.labelled} labelled copies"
                     f" with their original, {nd.detected} of them recognised as copies)")
        for article in nd.wrong:
            lines.append(f"  wrong copy: {article}  {_short(titles.get(article, ''))}")
    for note in notes:
        lines.append(note)
    for split, found in errors.items():
        lines += ["", f"Stories split apart, {split} ({len(found.split)}):"]
        for story, clusters in found.split.items():
            lines.append(f"  {story}")
            for members in clusters:
                lines.append("    [" + ", ".join(f"{a} {_short(titles.get(a, ''), 40)}" for a in members) + "]")
        lines += [f"Stories merged, {split} ({len(found.merged)}):"]
        for cluster, stories in found.merged.items():
            lines.append(f"  cluster {cluster}: " + "; ".join(
                f"{story} ({', '.join(members)})" for story, members in stories.items()))
    return "\n".join(lines) + "\n"
