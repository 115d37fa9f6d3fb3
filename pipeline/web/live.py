"""The live page's feed: one reader of every alert stream, fanned out to every open page.

    live = AlertBroadcaster(redis_url, keys, render=lambda stream, entry_id, fields: "<article>…")
    task = asyncio.create_task(live.run())
    queue = live.subscribe(after="1718000000000-0", subscription=None)   # one per open page (SSE)
    event = await queue.get()        # LiveEvent(kind="alert", entry=..., html=...), or a "status"
    live.unsubscribe(queue)

One ``XREAD BLOCK`` over all alert streams (``<prefix>alerts:<subscription>``) serves any number of
pages: a hundred open pages are one Redis connection, and an alert is rendered once. The streams
are the stored subscriptions' (re-read every ``refresh_seconds``) and, at start, every alert stream
there is; a stream found later is read from the moment of the previous look, so a subscription
created while the page is open shows its alerts and an old stream is not replayed.

The last ``backlog`` events are kept: a page that reconnects (EventSource sends the id of the last
event it got) is sent what it missed. While Redis is away every page is told so ("status"
events), the reader retries with backoff, and says when Redis is back.
"""

import asyncio
import collections
import logging
import time
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from connectors.redis_connection import redis_problem
from pipeline.web.render import stream_id_key

__all__ = ["AlertBroadcaster", "LiveEvent", "sse_message"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEvent:
    kind: str  # "alert" or "status"
    entry: str = ""
    subscription: str = ""
    html: str = ""
    text: str = ""  # a status: "ok" or why Redis cannot be read


def sse_message(event):
    """One server-sent event: ``event:``/``id:`` lines and the data, one ``data:`` line per line."""
    lines = [f"event: {event.kind}"]
    if event.entry:
        lines.append(f"id: {event.entry}")
    data = event.html if event.kind == "alert" else event.text
    lines.extend(f"data: {line}" for line in (data.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


class AlertBroadcaster:
    def __init__(self, url, keys, render, *, block_ms=1000, refresh_seconds=2.0, backlog=500, queue_size=256):
        self._url = url
        self._keys = keys
        self._render = render
        self._block_ms = block_ms
        self._refresh_seconds = refresh_seconds
        self._backlog = collections.deque(maxlen=backlog)
        self._queue_size = queue_size
        self._subscribers = {}  # queue -> subscription name or None (all)
        self._positions = {}  # stream -> last id read
        self._last_look_ms = None
        self._next_look = 0.0
        self.status = "starting"
        self.delivered = 0

    # --- pages ---------------------------------------------------------------------------------

    def subscribe(self, after=None, subscription=None):
        """A queue of the events for one page: what it missed since ``after`` (an entry id), the
        current status, then each new alert (of ``subscription`` only, if given)."""
        queue = asyncio.Queue(self._queue_size)
        floor = stream_id_key(after) if after else None
        if floor is not None:
            for event in self._backlog:
                if stream_id_key(event.entry) > floor and subscription in (None, event.subscription):
                    queue.put_nowait(event)
        queue.put_nowait(LiveEvent("status", text=self.status))
        self._subscribers[queue] = subscription
        return queue

    def unsubscribe(self, queue):
        self._subscribers.pop(queue, None)

    @property
    def listeners(self):
        return len(self._subscribers)

    def _publish(self, event):
        if event.kind == "alert":
            self._backlog.append(event)
        for queue, wanted in list(self._subscribers.items()):
            if event.kind == "alert" and wanted not in (None, event.subscription):
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a page that stopped reading: drop it; its browser reconnects
                self._subscribers.pop(queue, None)
                self._close(queue)

    @staticmethod
    def _close(queue):
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                break
        queue.put_nowait(None)

    def _set_status(self, status):
        if status != self.status:
            self.status = status
            self._publish(LiveEvent("status", text=status))

    def close(self):
        """End every page's stream (the server is stopping)."""
        for queue in list(self._subscribers):
            self._close(queue)
        self._subscribers.clear()

    # --- Redis ---------------------------------------------------------------------------------

    async def _look(self, client):
        """Add the alert streams of subscriptions stored since the last look."""
        now_seconds, micro = await client.time()
        now_ms = now_seconds * 1000 + micro // 1000
        streams = {self._keys.alerts(name) for name in await client.hkeys(self._keys.subscriptions)}
        if self._last_look_ms is None:  # the first look: every alert stream there is, read from its end
            async for key in client.scan_iter(match=self._keys.alerts("*"), count=1000, _type="stream"):
                streams.add(key)
        new = sorted(streams - set(self._positions))
        if new and self._last_look_ms is None:
            pipe = client.pipeline(transaction=False)
            for stream in new:
                pipe.xrevrange(stream, count=1)
            for stream, last in zip(new, await pipe.execute()):
                self._positions[stream] = last[0][0] if last else "0-0"
        else:
            for stream in new:  # made since the last look: what it got since then
                self._positions[stream] = f"{self._last_look_ms}-0"
        self._last_look_ms = now_ms
        self._next_look = time.monotonic() + self._refresh_seconds

    async def _read(self, client):
        if time.monotonic() >= self._next_look:
            await self._look(client)
        if not self._positions:
            await asyncio.sleep(self._refresh_seconds)  # no alert stream yet: look again soon
            return
        reply = await client.xread(self._positions, count=1000, block=self._block_ms)
        entries = []
        for stream, items in reply or []:
            for entry_id, fields in items:
                entries.append((stream_id_key(entry_id), stream, entry_id, fields))
            if items:
                self._positions[stream] = items[-1][0]
        for _, stream, entry_id, fields in sorted(entries, key=lambda e: e[0]):
            subscription = stream[len(self._keys.alerts("")):]
            try:
                html = self._render(stream, entry_id, fields)
            except Exception as error:  # noqa: BLE001 - one bad entry must not stop the page
                _log.warning("newsmon web: cannot show %s %s: %s", stream, entry_id, error)
                continue
            self.delivered += 1
            self._publish(LiveEvent("alert", entry=entry_id, subscription=subscription, html=html))

    async def run(self):
        """Read for ever (until cancelled); through Redis restarts."""
        delay = 0.2
        while True:
            client = aioredis.Redis.from_url(self._url, decode_responses=True, socket_connect_timeout=2,
                                             socket_timeout=self._block_ms / 1000 + 5)
            try:
                await client.ping()
                self._set_status("ok")
                delay = 0.2
                while True:
                    await self._read(client)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                self._set_status(f"Redis unavailable: {redis_problem(error, self._url)}; reconnecting")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                await client.aclose()
