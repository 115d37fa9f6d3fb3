"""``newsmon web`` over real HTTP: a real server process on the test Redis, read with httpx.

Pages, escaping, the token and CSRF on every write, the live event stream, Redis going away.
"""

import json
import re
import subprocess
import time

import httpx
import pytest

from tests.connectors.test_webhook import Receiver
from tests.servers import RedisServer
from tests.web.conftest import NEWSMON, ROOT, WebServer

HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'
PAGES = ["/", "/stories", "/trends", "/feeds", "/subscriptions", "/subscriptions/new", "/deadletters", "/login"]


def alert_fields(title, subscription="ns", **extra):
    return {"subscription": subscription, "title": title, "url": "https://news.example/a", "source": "Wire",
            "published": "2021-05-18T07:30:00Z", "story": "", "alert": "article", "score": "0.64",
            "terms": json.dumps(["nord stream"]), "evidence": json.dumps(["Germany halted Nord Stream 2."]),
            "topics": json.dumps([{"id": "sanctions", "evidence": []}]), "entities": "[]", **extra}


def signed_in(web):
    """An httpx client holding the session cookie, and the CSRF field of its forms."""
    client = httpx.Client(base_url=web.url, timeout=30)
    assert client.get(web.login_url).status_code == 303  # to the live page, with the cookie
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/subscriptions/new").text).group(1)
    return client, csrf


def newsmon(*argv, redis_url):
    return subprocess.run([*NEWSMON, *argv, "--redis", redis_url], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_with_the_security_headers(web, redis_db, path):
    response = httpx.get(web.url.rstrip("/") + path, timeout=30)
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script(?![^>]*src=)", response.text)
    assert not re.search(r"\son[a-z]+=", response.text)  # no inline event handlers


def test_feed_texts_are_escaped_on_every_page(web, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns", json.dumps({"topics": ["sanctions"]}))
    redis_db.xadd("newsmon:alerts:ns", alert_fields(HOSTILE, source=HOSTILE, evidence=json.dumps([HOSTILE])))
    redis_db.hset("newsmon:feed:f1", mapping={"url": "https://feed.example/rss", "title": HOSTILE,
                                              "last_error": HOSTILE, "health": "failing", "failures": "1"})
    redis_db.xadd("newsmon:deadletter", {"stage": "parse", "origin": HOSTILE, "error": HOSTILE, "article_id": ""})
    for path in ("/", "/feeds", "/deadletters"):
        text = httpx.get(web.url.rstrip("/") + path, timeout=30).text
        assert "&lt;img src=x onerror=" in text, path
        assert "<img" not in text, path


def test_a_malformed_alert_is_shown_as_such_and_the_page_keeps_working(web, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns", json.dumps({"topics": ["sanctions"]}))
    redis_db.xadd("newsmon:alerts:ns", {"title": "broken one", "topics": "{not json"})
    redis_db.xadd("newsmon:alerts:ns", alert_fields("Fine one"))
    text = httpx.get(web.url, timeout=30).text
    assert "malformed entry" in text and "topics is not JSON" in text
    assert "Fine one" in text and "<mark>Nord Stream</mark>" in text


def test_the_live_stream_pushes_an_alert_written_to_redis(web, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns", json.dumps({"topics": ["sanctions"]}))
    with httpx.stream("GET", web.url + "events", timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        event = []
        for line in lines:  # the status event says the reader is connected; then write the alert
            event.append(line)
            if line == "data: ok":
                break
        entry = redis_db.xadd("newsmon:alerts:ns", alert_fields("Pushed alert " + HOSTILE))
        event = []
        for line in lines:
            event.append(line)
            if line.startswith("data:") and "Pushed alert" in line:
                break
    assert f"id: {entry}" in event and "event: alert" in event
    data = "\n".join(line[6:] for line in event if line.startswith("data: "))
    assert "Pushed alert &lt;img src=x" in data and "<img" not in data


def test_writes_need_the_token_and_the_forms_csrf_field(web, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns", json.dumps({"topics": ["sanctions"]}))
    form = {"name": "made", "any": "nord stream"}
    anonymous = httpx.post(web.url + "subscriptions/save", data=form, timeout=30)
    assert anonymous.status_code == 403 and "refused" in anonymous.text
    assert httpx.post(web.url + "subscriptions/ns/pause", timeout=30).status_code == 403
    client, csrf = signed_in(web)
    assert client.post("/subscriptions/save", data=form).status_code == 403  # no CSRF field
    assert client.post("/subscriptions/save", data={**form, "csrf": "0" * 64}).status_code == 403
    cross = client.post("/subscriptions/save", data={**form, "csrf": csrf},
                        headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert redis_db.hkeys("newsmon:subscriptions") == ["ns"]
    assert client.post("/subscriptions/save", data={**form, "csrf": csrf}).status_code == 200
    assert client.post("/subscriptions/ns/frobnicate", data={"csrf": csrf}).status_code == 404
    bearer = httpx.post(web.url + "subscriptions/ns/pause", timeout=30,
                        headers={"Authorization": f"Bearer {web.token}"})
    assert bearer.status_code == 200 and "subscription ns paused" in bearer.text
    assert json.loads(redis_db.hget("newsmon:subscriptions", "ns"))["paused"] is True
    assert sorted(redis_db.hkeys("newsmon:subscriptions")) == ["made", "ns"]


def test_the_subscription_form_stores_what_subscribe_add_would_and_says_what_it_says(web, redis_db, redis_url):
    client, csrf = signed_in(web)
    bad = client.post("/subscriptions/save", data={"csrf": csrf, "name": "desk", "topic": "piracy"})
    cli = newsmon("subscribe", "add", "desk", "--topic", "piracy", redis_url=redis_url)
    assert bad.status_code == 400 and cli.returncode == 2
    message = cli.stderr.strip().removeprefix("newsmon: ")
    assert re.search(r'id="error-topic" role="alert">([^<]*)<', bad.text).group(1) == message.replace("'", "&#39;")
    bad = client.post("/subscriptions/save", data={"csrf": csrf, "name": "Desk!", "any": "x"})
    assert 'id="error-name"' in bad.text and "use 1-64 lower-case letters" in bad.text
    good = client.post("/subscriptions/save", data={"csrf": csrf, "name": "desk", "topic": "sanctions",
                                                     "any": "nord stream\ngazprom", "update_on": "sources:3"})
    assert "subscription desk saved; its alerts go to newsmon:alerts:desk" in good.text
    listed = newsmon("subscribe", "list", "--json", redis_url=redis_url)
    assert json.loads(listed.stdout) == {"desk": {"any": ["nord stream", "gazprom"], "topics": ["sanctions"],
                                                  "update_on": ["sources:3"]}}
    # Edit keeps a paused subscription paused; pause, resume and delete say what the CLI says.
    assert "subscription desk paused" in client.post("/subscriptions/desk/pause", data={"csrf": csrf}).text
    edit = client.get("/subscriptions/desk/edit").text
    assert "nord stream\ngazprom</textarea>" in edit and "readonly" in edit
    client.post("/subscriptions/save", data={"csrf": csrf, "editing": "1", "name": "desk", "any": "gazprom"})
    assert json.loads(redis_db.hget("newsmon:subscriptions", "desk")) == {"any": ["gazprom"], "paused": True}
    assert "subscription desk resumed" in client.post("/subscriptions/desk/resume", data={"csrf": csrf}).text
    gone = client.post("/subscriptions/desk/delete", data={"csrf": csrf}).text
    assert "subscription desk removed (its alerts stay on newsmon:alerts:desk)" in gone
    assert redis_db.hlen("newsmon:subscriptions") == 0


def test_dead_letters_list_and_retry(web, redis_db):
    receiver = Receiver()
    payload = {"alert_id": "ns:1-0", "title": "Undelivered"}
    kept = redis_db.xadd("newsmon:deadletter", {"stage": "deliver", "origin": "ns:1-0", "error": "HTTP 500",
                                                "webhook": receiver.url, "payload": json.dumps(payload),
                                                "alert_id": "ns:1-0", "subscription": "ns"})
    redis_db.xadd("newsmon:deadletter", {"stage": "fetch", "origin": "https://feed.example/", "error": "timeout"})
    client, csrf = signed_in(web)
    page = client.get("/deadletters").text
    assert "2 dead letter(s)" in page and f'value="{kept}"' in page and "timeout" in page
    done = client.post("/deadletters/retry", data={"csrf": csrf, "entry": kept}).text
    assert f"sent {kept} again and removed it" in done
    assert [body["title"] for body in receiver.received] == ["Undelivered"]
    assert [fields["stage"] for _, fields in redis_db.xrange("newsmon:deadletter")] == ["fetch"]
    receiver.server.shutdown()


def test_test_against_the_archive_previews_without_writing(web, redis_db):
    client, csrf = signed_in(web)
    preview = client.post("/subscriptions/preview", data={"csrf": csrf, "name": "probe", "any": "nord stream"},
                          timeout=300)  # the first preview loads the NER model
    assert preview.status_code == 200, preview.text
    assert "1 matching article(s)" in preview.text and "<mark>Nord Stream</mark>" in preview.text
    assert redis_db.hlen("newsmon:subscriptions") == 0


def test_stories_trends_and_feeds_show_the_commands_data(web, redis_db):
    now = time.time()
    redis_db.hset("newsmon:story:s1", mapping={"headline": "Pipeline halted", "first": now - 60, "last": now,
                                               "articles": 3, "sources": 2, "topics": json.dumps({"sanctions": 3}),
                                               "entities": "{}"})
    redis_db.hset("newsmon:story:s1:articles", "a1", json.dumps({"time": now, "source": "Wire", "title": "First",
                                                                 "url": "https://news.example/1", "how": "new"}))
    redis_db.zadd("newsmon:stories:by_time", {"s1": now})
    redis_db.hset("newsmon:feed:f1", mapping={"url": "https://feed.example/rss", "health": "ok",
                                              "last_status": "200", "items": "7"})
    stories = httpx.get(web.url + "stories?sort=size", timeout=30).text
    assert 'href="/stories/s1"' in stories and "Pipeline halted" in stories
    story = httpx.get(web.url + "stories/s1", timeout=30).text
    assert "First" in story and "3 articles from 2 sources" in story
    assert httpx.get(web.url + "stories/nope", timeout=30).status_code == 404
    feeds = httpx.get(web.url + "feeds", timeout=30).text
    assert "https://feed.example/rss" in feeds and ">200<" in feeds
    for n in range(150):  # the failing ones first, a hundred a page
        redis_db.hset(f"newsmon:feed:g{n:03d}", mapping={"url": f"https://g.example/{n:03d}",
                                                         "health": "failing" if n % 50 == 7 else "ok"})
    first = httpx.get(web.url + "feeds", timeout=30).text
    assert "148 ok" in first and "3 failing" in first and "page 1 of 2" in first
    assert first.index("https://g.example/007") < first.index("https://g.example/000")
    assert "https://g.example/149" in httpx.get(web.url + "feeds?page=2", timeout=30).text
    failing = httpx.get(web.url + "feeds?health=failing", timeout=30).text
    assert failing.count('<tr class="health-failing">') == 3 and "https://g.example/000" not in failing
    assert "articles counted" in httpx.get(web.url + "trends?series=topic:sanctions", timeout=30).text


def test_a_subscriptions_alerts_as_atom_at_a_stable_url(web, redis_db):
    redis_db.hset("newsmon:subscriptions", "ns", json.dumps({"topics": ["sanctions"]}))
    entry = redis_db.xadd("newsmon:alerts:ns", alert_fields("Atom " + HOSTILE))
    feed = httpx.get(web.url + "feeds/ns.atom", timeout=30)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    assert f"<id>urn:newsmon:alert:ns:{entry}</id>" in feed.text
    assert "<img" not in feed.text.replace("&lt;img", "")  # the title is text in the XML too
    assert f'href="{web.url}feeds/ns.atom"' in feed.text  # rel=self: where it is served
    again = httpx.get(web.url + "feeds/ns.atom", headers={"If-None-Match": feed.headers["etag"]}, timeout=30)
    assert again.status_code == 304
    redis_db.xadd("newsmon:alerts:ns", alert_fields("Another"))
    assert httpx.get(web.url + "feeds/ns.atom", headers={"If-None-Match": feed.headers["etag"]},
                     timeout=30).status_code == 200
    assert httpx.get(web.url + "feeds/nope.atom", timeout=30).status_code == 404
    assert httpx.get(web.url + "feeds/Bad%20Name.atom", timeout=30).status_code == 404


def test_a_token_file_guards_reads_too(redis_server, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-tests\n")
    server = WebServer(redis_server.url, "--token-file", str(token_file)).start()
    try:
        assert httpx.get(server.url, timeout=30).status_code == 303  # to /login
        assert httpx.get(server.url + "events", timeout=30).status_code == 401
        bearer = {"Authorization": "Bearer s3cret-token-for-tests"}
        assert httpx.get(server.url + "feeds", headers=bearer, timeout=30).status_code == 200
        assert httpx.get(server.url + "login?token=wrong", timeout=30).status_code == 403
        assert httpx.get(server.url + "feeds/x.atom", timeout=30).status_code == 401
        assert httpx.get(server.url + "feeds/x.atom?token=wrong", timeout=30).status_code == 401
        # A feed reader's URL carries the token (an unknown subscription: 404, past the guard).
        assert httpx.get(server.url + "feeds/x.atom?token=s3cret-token-for-tests", timeout=30).status_code == 404
        assert httpx.get(server.url + "feeds?token=s3cret-token-for-tests", timeout=30).status_code == 303
        client = httpx.Client(base_url=server.url, timeout=30)
        assert client.post("/login", data={"token": "s3cret-token-for-tests"}).status_code == 303
        assert client.get("/feeds").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("argv, message", [
    (["--host", "0.0.0.0"], "newsmon: refusing to listen on 0.0.0.0 without --token-file"),
    (["--token-file", "/nonexistent/token"], "newsmon: --token-file /nonexistent/token: No such file or directory"),
    (["--port", "99999"], "argument --port: expected a port from 0 to 65535, got 99999"),
])
def test_bad_options_are_one_line(redis_url, argv, message):
    result = newsmon("web", *argv, redis_url=redis_url)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_port_in_use_is_one_line(web, redis_url):
    port = web.url.rsplit(":", 1)[1].strip("/")
    result = newsmon("web", "--port", port, redis_url=redis_url)
    assert result.returncode == 2 and result.stderr.startswith(f"newsmon: cannot listen on 127.0.0.1:{port}")


def test_redis_going_away_is_said_and_the_page_comes_back(tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    server = WebServer(redis.url).start()
    try:
        with httpx.stream("GET", server.url + "events", timeout=30) as stream:
            lines = stream.iter_lines()
            assert "data: ok" in _until(lines, lambda line: line == "data: ok")
            redis.stop()
            down = _until(lines, lambda line: line.startswith("data: Redis unavailable"))
            assert "reconnecting" in down[-1]
            page = httpx.get(server.url + "feeds", timeout=30)
            assert page.status_code == 503 and "nothing listens at" in page.text
            assert '<meta http-equiv="refresh" content="5">' in page.text
            redis.start()
            assert _until(lines, lambda line: line == "data: ok")[-1] == "data: ok"
        assert httpx.get(server.url + "feeds", timeout=30).status_code == 200
    finally:
        server.stop()
        redis.stop()


def _until(lines, condition):
    seen = []
    for line in lines:
        seen.append(line)
        if condition(line):
            return seen
    raise AssertionError(f"the stream ended: {seen}")


def test_sigterm_stops_it_with_status_0(redis_server):
    server = WebServer(redis_server.url).start()
    with httpx.stream("GET", server.url + "events", timeout=30) as stream:  # an open live page does not hold it
        next(stream.iter_lines())
        assert server.stop() == 0
