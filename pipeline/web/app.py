"""The dashboard's ASGI application (Starlette): pages, the live event stream, the write actions.

    app = create_app(WebConfig(redis_url="redis://127.0.0.1:6379/0", access=Access.generated()))
    uvicorn.run(app)            # what ``newsmon web`` does (pipeline/commands/web.py)

    GET  /                       live alerts (server-sent events from /events)
    GET  /events                 the live stream: text/event-stream, one event per alert
    GET  /stories, /stories/ID   stories by recency or size; one story's articles in time order
    GET  /trends                 most counted series, surges; ?series=topic:sanctions draws one
    GET  /feeds                  feed health, last status, items, failures, next poll
    GET  /subscriptions          list; /subscriptions/new and /subscriptions/NAME/edit: the form
    POST /subscriptions/save, /subscriptions/preview, /subscriptions/NAME/pause|resume|delete
    GET  /deadletters            list; POST /deadletters/retry
    GET  /feeds/NAME.atom        a subscription's latest alerts as Atom (``newsmon alerts feed NAME``), with an ETag
    GET  /login?token=T, POST /login, POST /logout

Every POST needs the token (a session cookie from /login, or ``Authorization: Bearer TOKEN``)
and, from a browser, the form's CSRF field and a same-origin ``Origin``. Every answer carries the
Content-Security-Policy of pipeline/web/security.py. When Redis goes away, pages answer 503 with
one line saying why and reload themselves; the live page says so and the stream reconnects.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jinja2
import redis
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from connectors.atom_feed import feed_etag
from connectors.redis_connection import display_url, redis_client, redis_problem
from connectors.redis_streams import RedisKeys
from connectors.subscription_store import SubscriptionStore
from pipeline.web import pages
from pipeline.web.live import AlertBroadcaster, sse_message
from pipeline.web.render import FORM_FIELDS, FormError, alert_view, error_field, form_from_rule, rule_from_form
from pipeline.web.security import COOKIE, SECURITY_HEADERS, Access
from transforms.rules import RuleError, validate_rule_id

__all__ = ["WebConfig", "create_app"]

_log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PAGES = (("/", "Live"), ("/stories", "Stories"), ("/trends", "Trends"), ("/feeds", "Feeds"),
         ("/subscriptions", "Subscriptions"), ("/deadletters", "Dead letters"))
_PUBLIC = ("/login", "/static/")


@dataclass
class WebConfig:
    redis_url: str
    access: Access
    prefix: str = "newsmon:"
    location: str = ""  # where the data is, for people (the URL with its password masked)
    topics_file: str = None  # subscriptions are checked against it (default: as `subscribe add`)
    archive: list = field(default_factory=list)  # what "test against the archive" reads
    preview_limit: int = 20
    block_ms: int = 1000
    refresh_seconds: float = 2.0


def _since(text, default):
    from pipeline.commands.trends import parse_duration

    try:
        return parse_duration(text or default), text or default
    except Exception:  # noqa: BLE001 - a bad value in a URL: the default, not an error page
        return parse_duration(default), default


def create_app(config):
    keys = RedisKeys(config.prefix)
    access = config.access
    client = redis_client(config.redis_url, socket_connect_timeout=2, socket_timeout=5)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=True, trim_blocks=True, lstrip_blocks=True)
    templates = Jinja2Templates(env=environment)
    alert_template = environment.get_template("_alert.html")
    preview_lock = threading.Lock()

    def render_alert(stream, entry_id, fields):
        return alert_template.render(alert=alert_view(entry_id, fields, stream))

    live = AlertBroadcaster(config.redis_url, keys, render_alert, block_ms=config.block_ms,
                            refresh_seconds=config.refresh_seconds)

    def cookie_of(request):
        return request.cookies.get(COOKIE, "")

    def page(request, name, context, status_code=200):
        cookie = cookie_of(request)
        signed_in = access.valid_session(cookie)
        return templates.TemplateResponse(request, name, {
            "pages": PAGES, "path": request.url.path, "location": config.location, "signed_in": signed_in,
            "csrf": access.csrf_token(cookie), "reads_need_token": access.required_for_reads, **context,
        }, status_code=status_code)

    async def read(function, *args, **kwargs):
        return await run_in_threadpool(function, *args, **kwargs)

    # --- writes --------------------------------------------------------------------------------

    async def writable_form(request):
        """The posted form if the request may write, else None (the caller answers 403)."""
        form = await request.form()
        if access.bearer_ok(request.headers.get("authorization")):
            return form
        cookie = cookie_of(request)
        if not access.valid_session(cookie) or not access.valid_csrf(cookie, form.get("csrf")):
            return None
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return None
        return form

    def refused(request):
        return page(request, "refused.html", {"title": "Refused"}, status_code=403)

    # --- pages ---------------------------------------------------------------------------------

    async def live_page(request):
        subscription = request.query_params.get("subscription") or None
        if subscription:
            try:
                validate_rule_id(subscription, "subscription")
            except RuleError as error:
                return PlainTextResponse(str(error), status_code=400)
        streams = set(live._positions) | {keys.alerts(n) for n in await read(client.hkeys, keys.subscriptions)}
        alerts = await read(pages.live_alerts, client, keys, streams, 50, subscription)
        after = alerts[0]["entry"] if alerts else ""
        return page(request, "live.html", {"title": "Live alerts", "alerts": alerts, "after": after,
                                           "subscription": subscription or ""})

    async def events(request):
        subscription = request.query_params.get("subscription") or None
        after = request.headers.get("last-event-id") or request.query_params.get("after") or None
        queue = live.subscribe(after=after, subscription=subscription)

        async def stream():
            try:
                yield "retry: 2000\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if event is None:
                        return
                    yield sse_message(event)
            finally:
                live.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def stories_page(request):
        since_seconds, since = _since(request.query_params.get("since"), "24h")
        sort = "size" if request.query_params.get("sort") == "size" else "recent"
        topic = request.query_params.get("topic") or None
        stories = await read(pages.story_list, client, keys, time.time() - since_seconds, topic, sort)
        return page(request, "stories.html", {"title": "Stories", "stories": stories, "since": since, "sort": sort,
                                              "topic": topic or ""})

    async def story_page(request):
        story = await read(pages.story_page, client, keys, request.path_params["story_id"])
        if story is None:
            return page(request, "message.html", {"title": "No such story",
                                                  "message": f"no story {request.path_params['story_id']}"
                                                             " (unknown, or expired)"}, status_code=404)
        return page(request, "story.html", {"title": f"Story {story['id']}", "story": story})

    async def trends_page(request):
        since_seconds, since = _since(request.query_params.get("since"), "7d")
        series = (request.query_params.get("series") or "").strip() or None
        until = time.time()
        data = await read(pages.trends_page, client, keys, until - since_seconds, until, series)
        return page(request, "trends.html", {"title": "Trends", "since": since, "series": series or "", **data})

    async def feeds_page(request):
        health = request.query_params.get("health") or None
        try:
            number = int(request.query_params.get("page", 1))
        except ValueError:
            number = 1
        rows, counts, pages_count, number = await read(pages.feed_rows, client, keys, health=health, page=number)
        return page(request, "feeds.html", {"title": "Feeds", "rows": rows, "counts": counts, "health": health or "",
                                            "pages_count": pages_count, "page_number": number})

    async def deadletters_page(request, message="", status_code=200):
        stage = request.query_params.get("stage") or None
        rows, total = await read(pages.dead_letters, client, keys, stage)
        return page(request, "deadletters.html", {"title": "Dead letters", "rows": rows, "total": total,
                                                  "stage": stage or "", "message": message},
                    status_code=status_code)

    async def deadletters_retry(request):
        form = await writable_form(request)
        if form is None:
            return refused(request)
        from connectors.webhook import redeliver

        ids = form.getlist("entry")

        def retry():
            lines = []
            for entry_id in ids:
                found = client.xrange(keys.deadletter, min=entry_id, max=entry_id)
                if not found:
                    lines.append(f"no dead letter {entry_id!r} on {keys.deadletter}")
                    continue
                ok, why = redeliver(client, keys.deadletter, entry_id, found[0][1])
                lines.append(f"sent {entry_id} again and removed it" if ok else f"kept {entry_id}: {why}")
            return "; ".join(lines) or "nothing chosen"

        return await deadletters_page(request, message=await read(retry))

    async def subscriptions_page(request, message=""):
        rows = await read(pages.subscription_rows, client, keys, config.topics_file)
        return page(request, "subscriptions.html", {"title": "Subscriptions", "rows": rows, "message": message,
                                                    "json": json})

    async def subscription_form(request, values=None, errors=None, editing=False, preview=None, status_code=200):
        topics, source = await read(pages.topics_known, client, keys, config.topics_file)
        return page(request, "subscription_form.html", {
            "title": "Edit subscription" if editing else "New subscription", "values": values or {"per": "story"},
            "errors": errors or {}, "editing": editing, "fields": FORM_FIELDS, "topics": topics,
            "topics_source": source, "preview": preview, "archive": [str(p) for p in config.archive],
        }, status_code=status_code)

    async def new_subscription(request):
        return await subscription_form(request)

    async def edit_subscription(request):
        name = request.path_params["name"]
        rule = await read(SubscriptionStore(client, keys).get, name)
        if rule is None:
            return page(request, "message.html", {"title": "No such subscription",
                                                  "message": f"no subscription {name!r}"}, status_code=404)
        return await subscription_form(request, form_from_rule(name, rule), editing=True)

    def checked_rule(values):
        """``(name, rule)`` as ``subscribe add`` would store them; FormError naming the field if not."""
        name = values.get("name", "").strip()
        rule = rule_from_form(values)
        try:
            validate_rule_id(name, "subscription")
        except RuleError as error:
            raise FormError("name", str(error)) from error
        return name, rule

    async def save_subscription(request):
        form = await writable_form(request)
        if form is None:
            return refused(request)
        values = {name: form.get(name, "") for name in FORM_FIELDS}
        editing = form.get("editing") == "1"
        try:
            name, rule = checked_rule(values)
            topics, source = await read(pages.topics_known, client, keys, config.topics_file)
            store = SubscriptionStore(client, keys)

            def save():
                was_paused = bool((store.get(name) or {}).get("paused")) if editing else False
                store.add(name, rule, known_topics=topics)
                if was_paused:
                    store.set_paused(name, True)

            try:
                await read(save)
            except RuleError as error:
                message = f"{error}; checked against {source}" if "unknown topic" in str(error) else str(error)
                raise FormError(error_field(str(error)), message) from error
        except FormError as error:
            return await subscription_form(request, values, {error.field or "form": str(error)}, editing,
                                           status_code=400)
        kind = "surge alerts" if rule.get("on_spike") else "alerts"
        return await subscriptions_page(request, f"subscription {name} saved; its {kind} go to {keys.alerts(name)}")

    async def preview_subscription(request):
        form = await writable_form(request)
        if form is None:
            return refused(request)
        values = {name: form.get(name, "") for name in FORM_FIELDS}
        editing = form.get("editing") == "1"
        try:
            name, rule = checked_rule(values)
        except FormError as error:
            return await subscription_form(request, values, {error.field or "form": str(error)}, editing,
                                           status_code=400)
        if not config.archive:
            return await subscription_form(request, values, {"form": "no archive to test against: start newsmon "
                                                                     "web with --archive PATH"}, editing)
        try:
            preview = await read(_preview, config, name, rule, preview_lock)
        except RuleError as error:
            return await subscription_form(request, values, {error_field(str(error)) or "form": str(error)}, editing,
                                           status_code=400)
        return await subscription_form(request, values, editing=editing, preview=preview)

    async def subscription_action(request):
        form = await writable_form(request)
        if form is None:
            return refused(request)
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("pause", "resume", "delete"):
            return PlainTextResponse(f"no action {action!r}: pause, resume or delete", status_code=404)
        store = SubscriptionStore(client, keys)
        if action == "delete":
            done = await read(store.remove, name)
            message = f"subscription {name} removed (its alerts stay on {keys.alerts(name)})"
        else:
            done = await read(store.set_paused, name, action == "pause")
            message = f"subscription {name} {'paused' if action == 'pause' else 'resumed'}"
        if not done:
            return await subscriptions_page(request, f"no subscription {name!r}")
        return await subscriptions_page(request, message)

    async def atom_feed(request):
        from connectors.atom_feed import subscription_feed
        from pipeline.commands.alerts import alert_stream
        from pipeline.errors import UsageError

        name = request.path_params["name"]
        try:
            await read(alert_stream, client, keys, name)
        except (UsageError, RuleError) as error:
            return PlainTextResponse(str(error), status_code=404)
        try:
            count = min(max(int(request.query_params.get("n", 50)), 1), 500)
        except ValueError:
            count = 50
        base = str(request.base_url)
        body = await read(subscription_feed, client, keys, name, count=count,
                          self_url=f"{base}feeds/{name}.atom", site_url=f"{base}?subscription={name}")
        etag = feed_etag(body)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)

    # --- signing in ----------------------------------------------------------------------------

    def signed_in(request):
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, access.session_cookie(), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def login(request):
        if request.method == "GET":
            token = request.query_params.get("token")
            if token and access.token_matches(token):
                return signed_in(request)
            return page(request, "login.html", {"title": "Sign in", "error": "wrong token" if token else ""},
                        status_code=403 if token else 200)
        form = await request.form()
        if access.token_matches(form.get("token")):
            return signed_in(request)
        return page(request, "login.html", {"title": "Sign in", "error": "wrong token"}, status_code=403)

    async def logout(request):
        form = await request.form()
        if not access.valid_csrf(cookie_of(request), form.get("csrf")):
            return refused(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def redis_down(request, error):
        return page(request, "unavailable.html", {"title": "Redis unavailable",
                                                  "problem": redis_problem(error, config.redis_url)},
                    status_code=503)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        task = asyncio.create_task(live.run())
        try:
            yield
        finally:
            live.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            client.close()

    routes = [
        Route("/", live_page),
        Route("/events", events),
        Route("/stories", stories_page),
        Route("/stories/{story_id}", story_page),
        Route("/trends", trends_page),
        Route("/feeds", feeds_page),
        Route("/feeds/{name}.atom", atom_feed),
        Route("/subscriptions", subscriptions_page),
        Route("/subscriptions/new", new_subscription),
        Route("/subscriptions/save", save_subscription, methods=["POST"]),
        Route("/subscriptions/preview", preview_subscription, methods=["POST"]),
        Route("/subscriptions/{name}/edit", edit_subscription),
        Route("/subscriptions/{name}/{action:str}", subscription_action, methods=["POST"]),
        Route("/deadletters", deadletters_page),
        Route("/deadletters/retry", deadletters_retry, methods=["POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={redis.RedisError: redis_down})
    app.state.live = live
    app.state.config = config
    return _Guard(app, access)


class _Guard:
    """ASGI middleware: the security headers on every answer, and the token for reads when asked."""

    def __init__(self, app, access):
        self.app = app
        self.access = access
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if self.access.required_for_reads and not path.startswith(_PUBLIC):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            cookie = SimpleCookie()
            with contextlib.suppress(Exception):
                cookie.load(headers.get("cookie", ""))
            session = cookie[COOKIE].value if COOKIE in cookie else ""
            # A feed reader can neither sign in nor send a header: a feed's URL may carry the token.
            token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0] \
                if path.endswith(".atom") else ""
            if not (self.access.can_read(session, headers.get("authorization")) or self.access.token_matches(token)):
                response = (RedirectResponse("/login", status_code=303) if scope["method"] == "GET"
                            and path != "/events" and not path.endswith(".atom")
                            else PlainTextResponse("the token is needed", status_code=401))
                return await self._with_headers(response)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _with_headers(response: Response):
        response.headers.update(SECURITY_HEADERS)
        return response


_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def _preview(config, name, rule, lock):
    """What the rule would have matched in the archive: ``{"matches": [...], "count", "seconds"}``."""
    from pipeline.tag import preview_subscriptions
    from transforms.entities import DEFAULT_ALIASES, DEFAULT_MODEL, DEFAULT_PLACES
    from transforms.topics import DEFAULT_TAXONOMY, load_taxonomy

    taxonomy = load_taxonomy(config.topics_file or DEFAULT_TAXONOMY)
    started = time.monotonic()
    matches, failures, count = [], 0, 0
    with lock:  # one at a time: NER is the heaviest thing this server does
        for article, failed in preview_subscriptions(config.archive, taxonomy, {name: rule}, model=DEFAULT_MODEL,
                                                     aliases_path=DEFAULT_ALIASES, places_path=DEFAULT_PLACES):
            if failed is not None:
                failures += 1
                continue
            count += 1
            if len(matches) < config.preview_limit:
                alert = article["alerts"][0]
                fields = {"title": article.get("title", ""), "url": article.get("url", ""),
                          "source": article.get("source", ""), "published": article.get("published", ""),
                          "subscription": name, "score": str(alert["score"]),
                          "terms": json.dumps(alert["terms"]), "evidence": json.dumps(alert["evidence"]),
                          "topics": json.dumps([{"id": t["id"]} for t in article.get("topics", ())])}
                view = alert_view("0-0", fields)
                view["origin"] = article.get("origin", "")
                matches.append(view)
    return {"matches": matches, "count": count, "failures": failures,
            "seconds": round(time.monotonic() - started, 1), "archive": ", ".join(map(str, config.archive))}


def location_of(url, server):
    return f"the embedded Redis (data in {server.dbfile})" if server is not None else display_url(url)
