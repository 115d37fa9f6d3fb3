"""Story assignment per article with 1k, 10k and 100k open stories, Redis memory per story, beside NER.

    python -m benchmarks.stories [--sizes 1000 10000 100000] [--probes 1000]

One run, on the machine it runs on, with a private ``redis-server`` on a free
port of 127.0.0.1 (never 6379):

1. Open stories are generated (``random.Random(12)``, no data files): each
   has a title and a 150–250-word body drawn from wordfreq's 5,000 most
   common English words (Zipf-weighted: "the", "said", "minister" recur, as
   in news), 8 words of a shared news vocabulary, six made-up names of its
   own, and five entities, two of them from a short list every story draws
   on (Russia, China, NATO, ... : long postings), three its own. Their last
   articles are spread over the last 14 days (all open). They are put into
   the index with the same commit script assignment uses (mode ``force``,
   pipelined), so building 100k takes seconds, not minutes.
2. After 1k, then 10k, then 100k stories: ``--probes`` articles are each
   assigned with ``StoryIndex.assign(article_features(article, now))``, the
   call AssignStories makes, timed one by one (perf_counter): half are new
   events (new text and names), a quarter near-copies of an open story (one
   sentence changed) and a quarter other reports of one (its names and half
   its words, the rest new). p50 and p95 of the whole call, of the features
   alone, the CPU time per article of this process and of redis-server (on a
   busy machine wall time mostly measures the neighbours: each of the three
   round trips waits for redis-server to be scheduled), and how the probes
   were assigned.
3. Redis memory per story: ``used_memory`` after minus before adding the
   stories, over their number (one article each, as most stories are).
4. Beside it, spaCy NER (the pipeline's model, NER only, batches of 32) on
   200 of the generated bodies: ms per article, and the ratio p95 / NER.

Prints one plain table (figure, value, target, met?) with the command, the
machine and its load average.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version

import redis

from benchmarks.common import print_target_table, progress, quiet_logging, start_redis
from connectors.story_index import StoryIndex
from transforms.stories import _word_frequencies, article_features

__all__ = ["main", "story_rows"]

TARGET_P95_MS = 5.0
SHARED_ENTITIES = [("Russia", "GPE"), ("China", "GPE"), ("United States", "GPE"), ("NATO", "ORG"),
                   ("European Union", "ORG"), ("Ukraine", "GPE"), ("Iran", "GPE"), ("Germany", "GPE"),
                   ("United Nations", "ORG"), ("Israel", "GPE")]
NEWS_WORDS = ("sanctions minister ministry officials government parliament election troops military exercise "
              "border attack missile drone pipeline gas oil energy cyber ransomware hackers court sentenced "
              "arrested detained summit talks treaty nuclear inspectors agency police protest strike ceasefire "
              "embassy diplomats envoy spokesman statement investigation report vessel tanker port navy").split()
DAY = 86400.0


class Generator:
    """Deterministic articles and stories for the benchmark."""

    def __init__(self, seed=12):
        self.rng = random.Random(seed)
        common = sorted(_word_frequencies().items(), key=lambda kv: -kv[1])[:5000]
        self.words = [w for w, _ in common]
        self.weights = [f for _, f in common]
        self.number = 0

    def _name(self):
        letters = "bcdfghklmnprstvz"
        return "".join(self.rng.choice(letters).upper() if i == 0 else self.rng.choice(letters + "aeiou" * 3)
                       for i in range(self.rng.randint(5, 9)))

    def _body(self, names, length):
        words = self.rng.choices(self.words, self.weights, k=length)
        words += self.rng.choices(NEWS_WORDS, k=8)
        words += [self.rng.choice(names) for _ in range(12)]
        self.rng.shuffle(words)
        sentences = [" ".join(words[i:i + 15]).capitalize() + "." for i in range(0, len(words), 15)]
        return " ".join(sentences)

    def article(self, when, names=None, body=None):
        self.number += 1
        names = names or [self._name() for _ in range(6)]
        body = body or self._body(names, self.rng.randint(150, 250))
        shared = self.rng.sample(SHARED_ENTITIES, 2)
        entities = [{"canonical": n, "label": label, "count": 2} for n, label in shared]
        entities += [{"canonical": n, "label": "PERSON", "count": 3} for n in names[:3]]
        return {
            "id": f"bench{self.number:011d}",
            "title": " ".join([*names[:2], *self.rng.sample(NEWS_WORDS, 5)]).capitalize(),
            "text": body,
            "url": f"https://news{self.number % 50}.example/{self.number}",
            "source": f"news{self.number % 50}.example",
            "published": datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entities": entities,
            "names": names,
        }

    def near_copy(self, article, when):
        sentences = article["text"].split(". ")
        sentences[self.rng.randrange(len(sentences))] = "A sentence changed by the copy desk"
        return self.article(when, names=article["names"], body=". ".join(sentences))

    def other_report(self, article, when):
        words = article["text"].split()
        kept = self.rng.sample(words, len(words) // 2)
        body = " ".join(kept) + " " + self._body(article["names"], len(words) // 2)
        return self.article(when, names=article["names"], body=body)


def populate(index, generator, count, now, batch=200):
    """``count`` one-article stories, last seen within the last 14 days, committed as assignment commits them."""
    kept = []
    for start in range(0, count, batch):
        pipe = index._client.pipeline(transaction=False)
        for _ in range(min(batch, count - start)):
            article = generator.article(now - generator.rng.uniform(0, 14 * DAY))
            features = article_features(article, now)
            index._commit_decision(features, "force", features.article_id, "new", 0, (), 0.0, client=pipe)
            if generator.rng.random() < 0.01:
                kept.append(article)
        pipe.execute()
    return kept


def _server_cpu(client):
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def probe(index, generator, open_articles, probes, now):
    totals, features_only, hows = [], [], {}
    for number in range(probes):
        kind = number % 4
        when = now - generator.rng.uniform(0, DAY)
        if kind in (0, 1) or not open_articles:
            article = generator.article(when)
        elif kind == 2:
            article = generator.near_copy(generator.rng.choice(open_articles), when)
        else:
            article = generator.other_report(generator.rng.choice(open_articles), when)
        start = time.perf_counter()
        features = article_features(article, now)
        middle = time.perf_counter()
        assignment = index.assign(features)
        end = time.perf_counter()
        totals.append((end - start) * 1000)
        features_only.append((middle - start) * 1000)
        hows[assignment.how] = hows.get(assignment.how, 0) + 1
    return totals, features_only, hows


def ner_ms_per_article(generator, count=200):
    from transforms.entities import load_ner_model

    nlp = load_ner_model()
    texts = [generator.article(0)["text"] for _ in range(count)]
    list(nlp.pipe(texts[:32], batch_size=32))  # warm-up
    start = time.perf_counter()
    list(nlp.pipe(texts, batch_size=32))
    return (time.perf_counter() - start) * 1000 / count


def story_rows(sizes, probes):
    rows = []
    generator = Generator()
    now = time.time()
    with tempfile.TemporaryDirectory() as directory:
        server = start_redis(directory)
        try:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            index = StoryIndex(client, url=server.url)
            client.set("warm", "1")
            open_articles, made = [], 0
            p95s = {}
            for size in sizes:
                progress(f"{size:,} open stories")
                before = client.info("memory")["used_memory"]
                open_articles += populate(index, generator, size - made, now)
                added = size - made
                per_story = (client.info("memory")["used_memory"] - before) / added
                made = size
                server_cpu = _server_cpu(client)
                client_cpu = time.process_time()
                totals, features_only, hows = probe(index, generator, open_articles, probes, now)
                client_cpu = (time.process_time() - client_cpu) * 1000 / probes
                server_cpu = (_server_cpu(client) - server_cpu) * 1000 / probes
                label = f"{size:,} open stories"
                p95s[size] = percentile(totals, 0.95)
                rows += [
                    (f"{label}: assign p50 / p95 (ms/article)",
                     f"{statistics.median(totals):.2f} / {p95s[size]:.2f}",
                     f"p95 <= {TARGET_P95_MS:g} ms" if size == sizes[-1] else "",
                     ("yes" if p95s[size] <= TARGET_P95_MS else "NO") if size == sizes[-1] else ""),
                    (f"{label}: of which features p50 / p95", f"{statistics.median(features_only):.2f} /"
                                                              f" {percentile(features_only, 0.95):.2f}", "", ""),
                    (f"{label}: CPU ms/article, this process / redis-server",
                     f"{client_cpu:.2f} / {server_cpu:.2f}", "", ""),
                    (f"{label}: probes assigned as", ", ".join(f"{k} {v}" for k, v in sorted(hows.items())),
                     "", ""),
                    (f"{label}: Redis memory per story added (bytes)", f"{per_story:,.0f}", "", ""),
                ]
            client.close()
        finally:
            server.stop()
    progress("spaCy NER for comparison")
    ner = ner_ms_per_article(generator)
    rows += [("spaCy NER, same machine (ms/article, 150-250 words)", f"{ner:.1f}", "", ""),
             (f"ratio assign p95 at {sizes[-1]:,} / NER", f"{p95s[sizes[-1]] / ner:.3f}", "", "")]
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stories", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000],
                        help="numbers of open stories, ascending (default: 1000 10000 100000)")
    parser.add_argument("--probes", type=int, default=1000, help="articles timed per size (default: 1000)")
    args = parser.parse_args(argv)
    if args.sizes != sorted(args.sizes) or args.sizes[0] < 1 or args.probes < 4:
        parser.error("--sizes must ascend from at least 1; --probes at least 4")
    quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m benchmarks.stories", *(sys.argv[1:] if argv is None else argv)])
    rows = story_rows(args.sizes, args.probes)
    versions = ", ".join(f"{name} {version(name)}" for name in ("datasketch", "wordfreq", "spacy"))
    print_target_table("Story assignment", f"{versions}, redis-server {redis_version()}", rows, command, started)
    return 0


def redis_version():
    import subprocess

    from tests.servers import redis_server_binary

    out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else "?"


if __name__ == "__main__":
    sys.exit(main())
