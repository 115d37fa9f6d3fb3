"""StoryIndex: the open stories in Redis, shared by every worker, and atomic assignment.

    index = StoryIndex.from_url("redis://localhost:6379/0")
    assignment = index.assign(article_features(article, now))   # -> Assignment(story_id="3f2a…", ...)

Key layout (prefix configurable, default ``newsmon:``); every key has a TTL
(``ttl_seconds``, 14 days by default) that each new article of the story renews:

    newsmon:story:<id>                 hash: headline, url, first/last (epoch s), articles, sources,
                                       centroid {term: weight}, entities, topics (JSON)
    newsmon:story:<id>:articles        hash: article id -> {title, url, source, published, how}
    newsmon:story:<id>:sources         set of the sources that carried it
    newsmon:stories:article:<id>       the story an article was assigned to (what makes replays idempotent)
    newsmon:stories:url:<hash>         story of a canonical URL
    newsmon:stories:text:<hash>        story of a normalised body text
    newsmon:stories:band:<b>:<hash>    story that first claimed a MinHash LSH band value (SET NX)
    newsmon:stories:post:<t|e>:<term>  sorted set: the latest 1,000 stories with that salient term / entity,
                                       by the time of their last article
    newsmon:stories:by_time            sorted set: every story by the time of its last article (expired
                                       stories are dropped when a listing meets them)
    newsmon:stories:seq, :recent       a counter and the last 10,000 stories it numbered (for claims)

Assignment is three round trips: read what the article's keys point to
(its own assignment, URL, text, bands, postings), read the candidate stories,
then commit with one Lua script. The script is the atomic claim: it assigns
the article only if it was not assigned meanwhile (so a replay, a retried
bundle or a retry after a lost reply changes nothing), and it creates a new
story only if no story that the decision did not see has claimed the
article's URL, text or enough of its bands, or was created since the read and
shares a band or a posting with it. Otherwise it answers "conflict" and the
decision is made again with those stories. So two workers assigning
near-identical articles at the same moment make one story, not two.

Redis errors are retried with backoff (``call_with_retry``, like the sink);
every retry starts again from the read, and the script makes the retry safe.
"""

import json
import time
import zlib
from dataclasses import dataclass, field

from connectors.redis_connection import call_with_retry, redis_client
from transforms.stories import DEFAULT_SETTINGS, StoryCandidate, choose_story

__all__ = ["Assignment", "DEFAULT_TTL_SECONDS", "StoryIndex", "StoryKeys"]

DEFAULT_TTL_SECONDS = 14 * 24 * 3600
_RECENT_KEPT = 10_000  # stories remembered by creation number for conflict checks
_MAX_ATTEMPTS = 20
_ENTITIES_KEPT = 60
# Caps by rank, not by time: an archive replays in any order of publication times, so trimming by
# time would drop the postings of a story an older article still has to find.
_POSTING_KEPT = 1_000  # latest stories per salient term or entity
_LISTED_KEPT = 1_000_000  # stories in the by-time listing (expired ones are dropped when listed)

COMMIT_SCRIPT = """
-- KEYS: 1 article, 2 url, 3 text, 4 seq, 5 recent, 6 by_time, 7 story, 8 story articles, 9 story sources,
--       then nb band keys, then np posting keys.
-- ARGV: 1 mode (new|join|force), 2 story id, 3 read seq, 4 ttl, 5 article time, 6 nb, 7 np,
--       8 near-duplicate bands, 9 has url, 10 has text, 11 article id, 12 article JSON, 13 source,
--       14 headline, 15 vector JSON, 16 entities JSON [[key, name, label], ...], 17 topics JSON,
--       18 centroid terms kept, 19 considered story ids JSON, 20 recent kept, 21 url, 22 entities kept,
--       23 now (wall clock), 24 stories kept per posting, 25 stories kept in by_time, 26 housekeeping (1|0),
--       27 entities of a new story JSON {key: [name, label, 1]}, 28 topics of a new story JSON {topic: 1}
local mode, sid = ARGV[1], ARGV[2]
local read_seq, ttl, t = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local nb, np, near = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local posting_cap = tonumber(ARGV[24])
local prior = redis.call('GET', KEYS[1])
if prior then return {'assigned', prior} end
local story, articles, sources = KEYS[7], KEYS[8], KEYS[9]

if mode == 'new' then
  local considered = {}
  for _, id in ipairs(cjson.decode(ARGV[19])) do considered[id] = true end
  local conflicts, seen = {}, {}
  local function conflict(id)
    if id and not considered[id] and not seen[id] then seen[id] = true; conflicts[#conflicts + 1] = id end
  end
  if ARGV[9] == '1' then conflict(redis.call('GET', KEYS[2])) end
  if ARGV[10] == '1' then conflict(redis.call('GET', KEYS[3])) end
  local owners = {}
  for i = 1, nb do
    local owner = redis.call('GET', KEYS[9 + i])
    if owner then owners[owner] = (owners[owner] or 0) + 1 end
  end
  for owner, hits in pairs(owners) do if hits >= near then conflict(owner) end end
  local created = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. read_seq, '+inf')
  for _, id in ipairs(created) do
    if not considered[id] and not seen[id] then
      local related = owners[id] ~= nil
      for i = 1, np do
        if not related and redis.call('ZSCORE', KEYS[9 + nb + i], id) then related = true end
      end
      if related then conflict(id) end
    end
  end
  if #conflicts > 0 then
    return {'conflict', cjson.encode(conflicts), redis.call('GET', KEYS[4]) or '0'}
  end
end
if mode == 'join' and redis.call('EXISTS', story) == 0 then return {'gone', sid} end

local housekeeping = ARGV[26] == '1'  -- trims capped sets; one commit in 16
local function top(map, size, weight)
  local items = {}
  for k, v in pairs(map) do items[#items + 1] = {k, v} end
  if #items <= size then return map end
  table.sort(items, function(a, b)
    local wa, wb = weight(a[2]), weight(b[2])
    if wa == wb then return a[1] < b[1] end
    return wa > wb
  end)
  local kept = {}
  for i = 1, size do kept[items[i][1]] = items[i][2] end
  return kept
end

local status, fresh, last = 'joined', {}, t
if mode ~= 'join' then
  -- A new story: its centroid, entities and topics are the article's, as sent.
  status = 'created'
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[5], seq, sid)
  if housekeeping then redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[20]) + 1)) end
  redis.call('HSET', story, 'headline', ARGV[14], 'url', ARGV[21], 'first', t, 'last', t, 'created', ARGV[23],
             'centroid', ARGV[15], 'entities', ARGV[27], 'topics', ARGV[28])
else
  local first, known_last, centroid, entities, topics = unpack(redis.call('HMGET', story, 'first', 'last',
                                                                          'centroid', 'entities', 'topics'))
  if t < tonumber(first) then redis.call('HSET', story, 'first', t) end
  if t > tonumber(known_last) then redis.call('HSET', story, 'last', t) else last = tonumber(known_last) end
  centroid = cjson.decode(centroid)
  for term, w in pairs(cjson.decode(ARGV[15])) do centroid[term] = (centroid[term] or 0) + w end
  centroid = top(centroid, tonumber(ARGV[18]), function(v) return v end)
  entities = cjson.decode(entities)
  for _, e in ipairs(cjson.decode(ARGV[16])) do
    local known = entities[e[1]]
    if known then known[3] = known[3] + 1
    else
      entities[e[1]] = {e[2], e[3], 1}
      fresh[#fresh + 1] = {e[2], e[3]}
    end
  end
  entities = top(entities, tonumber(ARGV[22]), function(v) return v[3] end)
  topics = cjson.decode(topics)
  for _, id in ipairs(cjson.decode(ARGV[17])) do topics[id] = (topics[id] or 0) + 1 end
  redis.call('HSET', story, 'centroid', cjson.encode(centroid), 'entities', cjson.encode(entities),
             'topics', cjson.encode(topics))
end
local count = redis.call('HINCRBY', story, 'articles', 1)
redis.call('HSET', articles, ARGV[11], ARGV[12])
if ARGV[13] ~= '' then redis.call('SADD', sources, ARGV[13]) end
local nsources = redis.call('SCARD', sources)
redis.call('HSET', story, 'sources', nsources, 'updated', ARGV[23])

redis.call('EXPIRE', story, ttl)
redis.call('EXPIRE', articles, ttl)
if nsources > 0 then redis.call('EXPIRE', sources, ttl) end
redis.call('SET', KEYS[1], sid, 'EX', ttl)
if ARGV[9] == '1' then redis.call('SET', KEYS[2], sid, 'NX', 'EX', ttl) end
if ARGV[10] == '1' then redis.call('SET', KEYS[3], sid, 'NX', 'EX', ttl) end
for i = 1, nb do redis.call('SET', KEYS[9 + i], sid, 'NX', 'EX', ttl) end
for i = 1, np do
  local posting = KEYS[9 + nb + i]
  redis.call('ZADD', posting, 'GT', last, sid)
  if housekeeping then redis.call('ZREMRANGEBYRANK', posting, 0, -(posting_cap + 1)) end
  redis.call('EXPIRE', posting, ttl)
end
redis.call('ZADD', KEYS[6], 'GT', last, sid)
if housekeeping then redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -(tonumber(ARGV[25]) + 1)) end
for i = 4, 6 do redis.call('EXPIRE', KEYS[i], ttl) end
return {status, sid, count, nsources, cjson.encode(fresh)}
"""


class StoryKeys:
    """The story keys under one prefix (see the module docstring)."""

    def __init__(self, prefix="newsmon:"):
        self.prefix = prefix
        self.seq = f"{prefix}stories:seq"
        self.recent = f"{prefix}stories:recent"
        self.by_time = f"{prefix}stories:by_time"

    def story(self, story_id):
        return f"{self.prefix}story:{story_id}"

    def story_articles(self, story_id):
        return f"{self.prefix}story:{story_id}:articles"

    def story_sources(self, story_id):
        return f"{self.prefix}story:{story_id}:sources"

    def article(self, article_id):
        return f"{self.prefix}stories:article:{article_id}"

    def url(self, url_key):
        return f"{self.prefix}stories:url:{url_key}"

    def text(self, text_key):
        return f"{self.prefix}stories:text:{text_key}"

    def band(self, band_key):
        return f"{self.prefix}stories:band:{band_key}"

    def posting(self, posting_key):
        return f"{self.prefix}stories:post:{posting_key}"


@dataclass(frozen=True)
class Assignment:
    """Where an article went: ``status`` is created, joined or assigned (by an earlier run)."""

    story_id: str
    status: str
    how: str
    articles: int = 0
    sources: int = 0
    score: float = 0.0
    new_entities: tuple = ()

    def to_dict(self):
        return {"id": self.story_id, "status": self.status, "how": self.how, "articles": self.articles,
                "sources": self.sources, "score": self.score,
                "new_entities": [list(e) for e in self.new_entities]}


@dataclass
class _Read:
    assigned: str = None
    url_owner: str = None
    text_owner: str = None
    band_hits: dict = field(default_factory=dict)
    posting_hits: dict = field(default_factory=dict)
    seq: int = 0


def _float(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class StoryIndex:
    """Story state in Redis; ``assign`` is safe from any number of processes at once."""

    def __init__(self, client, *, prefix="newsmon:", settings=DEFAULT_SETTINGS, ttl_seconds=DEFAULT_TTL_SECONDS,
                 retry_seconds=60, url=""):
        self._client = client
        self.keys = StoryKeys(prefix)
        self.settings = settings
        self.ttl_seconds = int(ttl_seconds)
        self._retry_seconds = retry_seconds
        self._url = url
        self._commit = client.register_script(COMMIT_SCRIPT)

    @classmethod
    def from_url(cls, url, **kwargs):
        return cls(redis_client(url), url=url, **kwargs)

    def close(self):
        self._client.close()

    # --- assignment ------------------------------------------------------------------------------

    def assign(self, features):
        """The story of one article (its features), created or joined atomically; Redis errors retried."""
        return call_with_retry(lambda: self._assign(features), url=self._url, retry_seconds=self._retry_seconds)

    def _assign(self, features):
        considered, gone, claimed = set(), set(), set()
        for attempt in range(_MAX_ATTEMPTS):
            read = self._read(features)
            if read.assigned:
                return self._already_assigned(read.assigned)
            candidates = self._candidates(read, features, gone, claimed)
            considered.update(c.story_id for c in candidates)
            decision, how = self._decide(read, features, candidates)
            mode = decision.action
            if mode == "new" and attempt == _MAX_ATTEMPTS - 1:
                mode = "force"  # pathological contention: give up looking for stories made meanwhile
            reply = self._commit_decision(features, mode, decision.story_id, how, read.seq, considered,
                                          decision.score)
            if reply[0] == "conflict":
                claimed.update(json.loads(reply[1]))  # stories made meanwhile: read again, with them
                continue
            if reply[0] == "gone":
                gone.add(decision.story_id)  # expired between the read and the commit
                continue
            if reply[0] == "assigned":
                return self._already_assigned(reply[1])
            status, story_id, count, sources, fresh = reply
            new_entities = tuple(tuple(e) for e in json.loads(fresh)) if fresh not in ("{}", "[]") else ()
            return Assignment(story_id, status, how, int(count), int(sources), decision.score, new_entities)
        raise RuntimeError(f"story assignment of {features.article_id} did not settle")  # not reached

    def _read(self, features):
        keys, s = self.keys, self.settings
        pipe = self._client.pipeline(transaction=False)
        pipe.get(keys.article(features.article_id))
        if features.url_key:
            pipe.get(keys.url(features.url_key))
        if features.text_key:
            pipe.get(keys.text(features.text_key))
        if features.bands:
            pipe.mget([keys.band(b) for b in features.bands])
        since = features.time - s.window_hours * 3600
        for posting in features.postings:
            pipe.zrevrangebyscore(keys.posting(posting), "+inf", since, start=0, num=s.posting_limit)
        pipe.get(keys.seq)
        replies = iter(pipe.execute())
        read = _Read(assigned=next(replies))
        if features.url_key:
            read.url_owner = next(replies)
        if features.text_key:
            read.text_owner = next(replies)
        if features.bands:
            for owner in next(replies):
                if owner:
                    read.band_hits[owner] = read.band_hits.get(owner, 0) + 1
        for _ in features.postings:
            for story_id in next(replies):
                read.posting_hits[story_id] = read.posting_hits.get(story_id, 0) + 1
        read.seq = int(next(replies) or 0)
        return read

    def _candidates(self, read, features, gone, claimed=()):
        """The stories worth scoring: exact owners, stories that claimed the article's keys since an
        earlier read, then those sharing most bands, then most postings."""
        ranked = sorted(set(read.band_hits) | set(read.posting_hits),
                        key=lambda sid: (-read.band_hits.get(sid, 0), -read.posting_hits.get(sid, 0), sid))
        chosen = [sid for sid in (read.url_owner, read.text_owner) if sid] + sorted(claimed)
        chosen += ranked[:self.settings.candidates]
        chosen = [sid for sid in dict.fromkeys(chosen) if sid not in gone]
        if not chosen:
            return []
        pipe = self._client.pipeline(transaction=False)
        for sid in chosen:
            pipe.hmget(self.keys.story(sid), "first", "last", "centroid", "entities")
        candidates = []
        for sid, (first, last, centroid, entities) in zip(chosen, pipe.execute()):
            if first is None:
                continue  # expired
            candidates.append(StoryCandidate(
                sid, _float(first), _float(last), json.loads(centroid or "{}"),
                {k: v[2] for k, v in json.loads(entities or "{}").items()},
                read.band_hits.get(sid, 0)))
        return candidates

    def _decide(self, read, features, candidates):
        """Exact duplicates first (same URL, same text), whatever the time; else choose_story."""
        alive = {c.story_id for c in candidates}
        for owner, how in ((read.url_owner, "same_url"), (read.text_owner, "same_text")):
            if owner and owner in alive:
                return _join(owner), how
        decision = choose_story(features, candidates, self.settings)
        return decision, decision.how

    def _commit_decision(self, features, mode, story_id, how, read_seq, considered, score, client=None):
        """Run the commit script (on ``client``, say a pipeline, if given)."""
        keys, s = self.keys, self.settings
        article = {"title": features.title, "url": features.url, "source": features.source,
                   "published": features.published, "time": features.time, "how": how, "score": score}
        story_keys = [keys.story(story_id), keys.story_articles(story_id), keys.story_sources(story_id)]
        script_keys = [keys.article(features.article_id),
                       keys.url(features.url_key or "-"), keys.text(features.text_key or "-"),
                       keys.seq, keys.recent, keys.by_time, *story_keys,
                       *(keys.band(b) for b in features.bands),
                       *(keys.posting(p) for p in features.postings)]
        entities = [[name.lower(), name, label] for name, label in features.entities]
        first_entities = {}
        for key, name, label in entities:
            first_entities.setdefault(key, [name, label, 1])
        housekeeping = zlib.crc32(features.article_id.encode()) % 16 == 0
        args = [mode, story_id, read_seq, self.ttl_seconds, repr(float(features.time)),
                len(features.bands), len(features.postings), s.near_duplicate_bands,
                "1" if features.url_key else "0", "1" if features.text_key else "0",
                features.article_id, _json(article), features.source, features.title,
                _json(features.vector), _json(entities), _json(list(features.topics)), s.centroid_terms,
                _json(sorted(considered)), _RECENT_KEPT, features.url, _ENTITIES_KEPT, repr(time.time()),
                _POSTING_KEPT, _LISTED_KEPT, "1" if housekeeping else "0",
                _json_object(first_entities), _json_object(dict.fromkeys(features.topics, 1))]
        return self._commit(keys=script_keys, args=args, client=client)

    def _already_assigned(self, story_id):
        articles, sources = self._client.hmget(self.keys.story(story_id), "articles", "sources")
        return Assignment(story_id, "assigned", "assigned", int(articles or 0), int(sources or 0))

    # --- reading stories -------------------------------------------------------------------------

    def story(self, story_id):
        """The story's summary with ``items``, its articles in time order, or None if there is none
        (or it expired)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(self.keys.story(story_id))
        pipe.hgetall(self.keys.story_articles(story_id))
        pipe.smembers(self.keys.story_sources(story_id))
        summary, articles, sources = pipe.execute()
        if not summary:
            return None
        story = _summary(story_id, summary)
        listed = []
        for article_id, meta in articles.items():
            item = json.loads(meta)
            listed.append({"id": article_id, **item})
        listed.sort(key=lambda a: (a.get("time", 0), a["id"]))
        story["items"] = listed  # "articles" stays the count
        story["source_names"] = sorted(sources)
        return story

    def summaries(self, story_ids):
        """The summaries of these stories (no articles), in one round trip; an expired one is left out."""
        pipe = self._client.pipeline(transaction=False)
        for story_id in story_ids:
            pipe.hgetall(self.keys.story(story_id))
        return [_summary(sid, fields) for sid, fields in zip(story_ids, pipe.execute() if story_ids else []) if fields]

    def stories(self, since=None, until=None, *, topic=None, limit=None):
        """Summaries of the stories whose last article is in ``[since, until]`` (epoch s), latest first."""
        low = "-inf" if since is None else since
        high = "+inf" if until is None else until
        ids = self._client.zrevrangebyscore(self.keys.by_time, high, low)
        found = []
        batch = 500
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            pipe = self._client.pipeline(transaction=False)
            for sid in chunk:
                pipe.hgetall(self.keys.story(sid))
            expired = []
            for sid, summary in zip(chunk, pipe.execute()):
                if not summary:
                    expired.append(sid)
                    continue
                story = _summary(sid, summary)
                if topic is not None and topic not in story["topics"]:
                    continue
                found.append(story)
                if limit is not None and len(found) >= limit:
                    break
            if expired:
                self._client.zrem(self.keys.by_time, *expired)  # its keys expired: forget it
            if limit is not None and len(found) >= limit:
                break
        return found


def _join(story_id):
    from transforms.stories import Decision

    return Decision("join", story_id, "exact", 1.0)


def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_object(mapping):
    """A JSON object, "{}" when empty (as Lua's cjson writes an empty table)."""
    return _json(mapping) if mapping else "{}"


def _summary(story_id, fields):
    entities = json.loads(fields.get("entities") or "{}")
    ranked = sorted(entities.values(), key=lambda e: (-e[2], e[0]))
    topics = json.loads(fields.get("topics") or "{}")
    return {
        "id": story_id,
        "headline": fields.get("headline", ""),
        "url": fields.get("url", ""),
        "first": _float(fields.get("first")),
        "last": _float(fields.get("last")),
        "articles": int(fields.get("articles") or 0),
        "sources": int(fields.get("sources") or 0),
        "topics": {k: v for k, v in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))} if topics else {},
        "entities": [{"name": e[0], "label": e[1], "articles": e[2]} for e in ranked],
    }
