import json

import pytest

from pipeline.cli import main
from tests.conftest import FIXTURES, SEED_ARTICLE, SEEDS


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_tag_json_shape_on_the_seed(capsys, taxonomy):
    status, out, _ = run(capsys, "tag", str(SEED_ARTICLE), "--json")
    assert status == 0
    [line] = out.splitlines()
    article = json.loads(line)
    assert set(article) == {"id", "title", "url", "source", "published", "origin", "language", "story",
                            "topics", "entities", "alerts"}  # the --json shape (pipeline/commands/json_lines.py)
    assert article["language"] == "en"
    assert {t["id"] for t in article["topics"]} == set(taxonomy)
    for topic in article["topics"]:
        assert set(topic) == {"id", "score", "terms", "evidence"} and topic["terms"] and topic["evidence"]
    for entity in article["entities"]:
        assert set(entity) == {"text", "label", "canonical", "count"}
    names = {(e["canonical"], e["label"]) for e in article["entities"]}
    assert ("Antony Blinken", "PERSON") in names and ("Paul Whelan", "PERSON") in names


def test_tag_readable_summary(capsys):
    status, out, _ = run(capsys, "tag", str(SEED_ARTICLE))
    assert status == 0
    assert "topic sanctions" in out and "Antony Blinken (PERSON" in out


def test_a_malformed_taxonomy_stops_before_any_article_is_read(capsys, tmp_path):
    bad = tmp_path / "topics.yaml"
    bad.write_text("topics:\n  spies:\n    any: [spy]\n    within: paragraph\n", encoding="utf-8")
    status, out, err = run(capsys, "tag", str(SEED_ARTICLE), "--topics", str(bad))
    assert status == 2 and out == ""
    assert "spies" in err and "within" in err and str(bad) in err


def test_replay_prints_a_summary_and_the_alerts(capsys, redis_url):
    argv = ["replay", str(SEEDS), "--redis", redis_url, "--no-progress",
            "--subscriptions", str(SEEDS / "subscriptions.yaml")]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "1 articles read, 0 failed" in out
    assert "sanctions                     1 articles" in out
    assert "nord-stream                   1 matched, 1 new on newsmon:alerts:nord-stream" in out
    assert "Latest alerts:" in out and "Nord Stream 2 pipeline" in out
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "1 matched, 0 new" in out and "already on their streams" in out


def test_subscriptions_lifecycle(capsys, redis_url, redis_db):
    status, out, _ = run(capsys, "subscribe", "add", "ns2", "--topic", "sanctions", "--any", "nord stream",
                         "--any", "gazprom", "--entity", "GPE:Germany", "--redis", redis_url)
    assert status == 0 and "newsmon:alerts:ns2" in out
    assert json.loads(redis_db.hget("newsmon:subscriptions", "ns2")) == {
        "topics": ["sanctions"], "any": ["nord stream", "gazprom"], "entities": {"GPE": ["Germany"]}}
    assert run(capsys, "subscribe", "pause", "ns2", "--redis", redis_url)[0] == 0
    status, out, _ = run(capsys, "subscribe", "list", "--redis", redis_url)
    assert out.startswith("ns2 (paused):")
    assert run(capsys, "subscribe", "resume", "ns2", "--redis", redis_url)[0] == 0
    status, out, _ = run(capsys, "subscribe", "show", "ns2", "--redis", redis_url)
    assert json.loads(out)["any"] == ["nord stream", "gazprom"]
    assert run(capsys, "subscribe", "remove", "ns2", "--redis", redis_url)[0] == 0
    assert not redis_db.exists("newsmon:subscriptions")
    status, _, err = run(capsys, "subscribe", "remove", "ns2", "--redis", redis_url)
    assert status == 2 and "no subscription 'ns2'" in err


@pytest.mark.parametrize("argv, message", [
    (["bad name", "--any", "x"], "subscription name"),
    (["ok", "--topic", "football"], "unknown topic 'football'"),
    (["ok", "--entity", "COUNTRY:Russia"], "unknown entity label 'COUNTRY'"),
    (["ok", "--entity", "Russia"], "expected LABEL:Name"),
    (["ok"], "empty rule"),
    (["ok", "--any", "x", "--within", "paragraph"], "'within'"),
])
def test_invalid_subscriptions_store_nothing(capsys, redis_url, redis_db, argv, message):
    status, _, err = run(capsys, "subscribe", "add", *argv, "--redis", redis_url)
    assert status == 2 and message in err
    assert not redis_db.exists("newsmon:subscriptions")


def test_alerts_show_after_replay(capsys, redis_url):
    run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url)
    run(capsys, "replay", str(SEEDS), "--redis", redis_url, "--no-progress", "--show", "0")
    status, out, _ = run(capsys, "alerts", "show", "ns2", "--redis", redis_url)
    assert status == 0 and "Antony Blinken and Sergey Lavrov" in out and "evidence:" in out
    status, out, _ = run(capsys, "alerts", "show", "ns2", "--json", "--redis", redis_url)
    assert json.loads(out.splitlines()[0])["subscription"] == "ns2"


@pytest.mark.parametrize("command", [[], ["replay"], ["tag"], ["subscribe"], ["subscribe", "add"], ["rules", "test"],
                                     ["alerts", "tail"], ["deliver"], ["poll"], ["monitor"], ["feeds", "status"],
                                     ["eval"], ["stories"], ["stories", "show"],
                                     ["subscribe", "list"], ["alerts"], ["alerts", "show"],
                                     ["deadletters"], ["deadletters", "list"], ["deadletters", "retry"],
                                     ["deadletters", "remove"]])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage: newsmon" in capsys.readouterr().out


def test_rules_test_previews_a_stored_rule_and_writes_nothing(capsys, redis_url, redis_db, tmp_path):
    (tmp_path / "other.jsonl").write_text(json.dumps({"title": "Gazprom results", "text": "Gazprom profits."})
                                          + "\n" + json.dumps({"title": "Bakery", "text": "Bread."}) + "\n")
    run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--any", "gazprom", "--redis", redis_url)
    before = sorted(redis_db.keys("*"))
    status, out, _ = run(capsys, "rules", "test", "ns2", "--archive", str(SEED_ARTICLE), str(tmp_path),
                         "--redis", redis_url)
    assert status == 0
    assert "Antony Blinken and Sergey Lavrov" in out and "Gazprom results" in out and "Bakery" not in out
    assert "Nord Stream 2 pipeline" in out
    assert out.rstrip().endswith("2 matching article(s); nothing was written to Redis.")
    assert sorted(redis_db.keys("*")) == before


def test_rules_test_shows_the_language_and_a_subscription_alerts_on_the_german_report_too(
        capsys, redis_url, tmp_path):
    # The same tanker seizure, reported by t-online in German (real) and in English (written).
    reports = {a["id"]: a for a in map(json.loads, (FIXTURES / "multilingual" / "corpus.jsonl")
                                       .read_text(encoding="utf-8").splitlines())}
    (tmp_path / "tanker.jsonl").write_text("".join(
        json.dumps({"title": reports[i]["title"], "text": reports[i]["text"]}, ensure_ascii=False) + "\n"
        for i in ("ml-de-tonline-schattenflotte", "ml-en-g1")), encoding="utf-8")
    status, _, _ = run(capsys, "subscribe", "add", "tankers", "--topic", "sanctions", "--terms", "en=tanker",
                       "--terms", "de=tanker", "--terms", "de=öltanker", "--redis", redis_url)
    assert status == 0
    status, out, _ = run(capsys, "rules", "test", "tankers", "--archive", str(tmp_path), "--redis", redis_url)
    assert status == 0
    assert f"{reports['ml-de-tonline-schattenflotte']['title']}  [" in out and ", de]" in out
    assert f"{reports['ml-en-g1']['title']}  [" in out and ", en]" in out
    assert out.rstrip().endswith("2 matching article(s); nothing was written to Redis.")
    status, _, err = run(capsys, "subscribe", "add", "bad", "--terms", "sanktionen", "--redis", redis_url)
    assert status != 0 and "LANG=TERM" in err


def test_rules_test_takes_a_yaml_file(capsys, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("subscriptions:\n  arctic:\n    topics: [arctic_militarization]\n", encoding="utf-8")
    status, out, _ = run(capsys, "rules", "test", str(rules), "--archive", str(SEEDS), "--json")
    assert status == 0
    [line] = out.splitlines()
    [alert] = json.loads(line)["alerts"]
    assert alert["id"] == "arctic" and "militarization" in alert["terms"]


def test_alerts_tail_acks_what_it_printed(capsys, redis_url, redis_db):
    for i in range(3):
        redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": f"Story {i}", "id": str(i)})
    status, out, _ = run(capsys, "alerts", "tail", "ns2", "--json", "--limit", "2", "--from-start",
                         "--redis", redis_url)
    assert status == 0 and [json.loads(line)["title"] for line in out.splitlines()] == ["Story 0", "Story 1"]
    status, out, _ = run(capsys, "alerts", "tail", "ns2", "--redis", redis_url)
    assert "Story 2" in out and "Story 0" not in out
    assert redis_db.xpending("newsmon:alerts:ns2", "tail")["pending"] == 0


def test_a_new_tail_group_starts_at_new_alerts(capsys, redis_url, redis_db):
    redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": "Old story", "id": "0"})
    status, out, _ = run(capsys, "alerts", "tail", "ns2", "--redis", redis_url)
    assert status == 0 and out == ""
    redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": "New story", "id": "1"})
    status, out, _ = run(capsys, "alerts", "tail", "ns2", "--redis", redis_url)
    assert "New story" in out and "Old story" not in out


def test_deliver_once_posts_every_waiting_alert_and_a_new_webhook_starts_at_new_alerts(
        capsys, redis_url, redis_db):
    from tests.connectors.test_webhook import Receiver

    receiver, other = Receiver(), Receiver()
    try:
        for i in range(2):
            redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": f"Story {i}", "id": str(i)})
        status, _, err = run(capsys, "deliver", "ns2", "--webhook", receiver.url, "--once", "--from-start",
                             "--redis", redis_url)
        assert status == 0 and "delivered 2 alert(s)" in err
        assert [body["title"] for body in receiver.received] == ["Story 0", "Story 1"]
        # A new (or changed) webhook URL does not get the stream's history.
        status, _, err = run(capsys, "deliver", "ns2", "--webhook", other.url, "--once", "--redis", redis_url)
        assert status == 0 and "delivered 0 alert(s)" in err and other.requests == []
        redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": "Story 2", "id": "2"})
        run(capsys, "deliver", "ns2", "--webhook", other.url, "--once", "--redis", redis_url)
        assert [body["title"] for body in other.received] == ["Story 2"]
    finally:
        for server in (receiver, other):
            server.server.shutdown()
            server.server.server_close()


def test_durations():
    from pipeline.commands.deliver import duration_seconds

    assert [duration_seconds(v) for v in ("24h", "30m", "90s", "2d", "45", "1.5h")] == [
        86400, 1800, 90, 172800, 45, 5400]


@pytest.mark.parametrize("value", ["0", "-5", "24 hours", "h", "1w"])
def test_deliver_give_up_after_takes_a_duration(capsys, value):
    with pytest.raises(SystemExit) as exited:
        main(["deliver", "ns2", "--webhook", "http://x/hook", "--give-up-after", value])
    assert exited.value.code == 2 and "expected a duration" in capsys.readouterr().err


def test_eval_prints_the_table_with_misses_and_false_hits(capsys, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(a) for a in [
        {"id": "e1", "title": "EU imposes sanctions on Russian banks",
         "text": "The European Union imposed new sanctions on three Russian banks on Monday.",
         "topics": ["sanctions"], "entities": [{"name": "European Union", "label": "ORG"}]},
        {"id": "e2", "title": "Club sanctioned by the league",
         "text": "The football club was sanctioned by the league after crowd trouble at the stadium.",
         "topics": [], "entities": []},
        {"id": "e3", "title": "Quiet week", "text": "Nothing happened in the Arctic this week.",
         "topics": ["arctic_militarization"], "entities": []},
    ]) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "eval", str(corpus))
    assert status == 0
    assert out.startswith("Evaluated 3 articles.")
    assert "sanctions               1.000  1.000  1.000        1    1    0    0" in out
    assert "arctic_militarization  e3" in out  # a miss, listed
    assert "key-entity recall" in out


def test_poll_once_then_feeds_status(capsys, redis_url, redis_db, tmp_path):
    from tests.pipeline.test_monitor import show
    from tests.servers import LiveFeed

    server = LiveFeed(etag=False)
    try:
        show(server, ["ns-1", "arctic-1"])
        feedlist = tmp_path / "feeds.txt"
        feedlist.write_text(f"{server.url}\nhttp://127.0.0.1:1/closed.xml\n", encoding="utf-8")
        run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url)
        argv = ["poll", str(feedlist), "--once", "--allow-private", "--redis", redis_url]
        status, out, _ = run(capsys, *argv)
        assert status == 1  # the closed feed failed
        assert "Polled 2 feed(s): 2 articles read, 1 failed" in out
        assert "Feeds: 1 fetched, 0 not modified, 1 failed, 0 not due yet" in out
        assert "ns2" in out and "Germany halts Nord Stream 2 certification" in out
        assert redis_db.xlen("newsmon:alerts:ns2") == 1
        # Polled again (forced): nothing new is processed or written.
        status, out, _ = run(capsys, *argv, "--force")
        assert "2 articles were processed by an earlier poll and skipped" in out
        assert redis_db.xlen("newsmon:alerts:ns2") == 1
        status, out, _ = run(capsys, "feeds", "status", "--redis", redis_url)
        assert status == 0
        lines = out.splitlines()
        assert lines[0].split()[:2] == ["health", "status"]
        assert any(line.startswith("ok") and server.url in line for line in lines)
        assert any(line.startswith("failing") and "closed.xml" in line for line in lines)
        assert "last error:" in out
    finally:
        server.stop()
        server.httpd.server_close()


def test_poll_refuses_private_addresses_by_default(capsys, redis_url, redis_db, tmp_path):
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text("http://127.0.0.1:1/feed.xml\n", encoding="utf-8")
    status, out, _ = run(capsys, "poll", str(feedlist), "--once", "--redis", redis_url)
    assert status == 1 and "1 failed" in out
    [(_, dead)] = redis_db.xrange("newsmon:deadletter")
    assert dead["stage"] == "fetch" and "loopback" in dead["error"]


def test_tag_shows_the_language_and_runs_no_english_model_over_german(capsys, tmp_path):
    from tests.conftest import FIXTURES

    german = next(json.loads(line) for line in (FIXTURES / "multilingual" / "corpus.jsonl").open(encoding="utf-8")
                  if '"language": "de"' in line and "Sanktionen" in line)
    path = tmp_path / "de.jsonl"
    path.write_text(json.dumps({"title": german["title"], "text": german["text"]}) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "tag", str(path), "--json")
    assert status == 0
    article = json.loads(out)
    assert article["language"] == "de" and article["entities"] == []
    status, out, _ = run(capsys, "tag", str(path))
    assert status == 0 and ", de]" in out


def test_a_model_that_is_not_installed_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["tag", str(SEED_ARTICLE), "--model", "de=de_core_news_nowhere"])
    assert stopped.value.code == 2
    assert "not installed" in capsys.readouterr().err


def test_eval_stories_prints_both_halves_with_the_baseline_and_leaves_nothing_in_redis(capsys, tmp_path,
                                                                                     redis_url, redis_db):
    from tests.story_samples import ALL, BAKE_SALE, SYNDICATED, WIRE

    corpus = tmp_path / "stories.jsonl"
    lines = []
    for article in ALL:
        record = {k: article[k] for k in ("id", "title", "text", "url", "source", "published")}
        record["story"] = {BAKE_SALE["id"]: "bake", "next0000000000004": "next"}.get(article["id"], "eu14")
        record["split"] = "heldout" if article is BAKE_SALE else "tune"
        if article is SYNDICATED:
            record["near_duplicate_of"] = WIRE["id"]
        lines.append(json.dumps(record))
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, _ = run(capsys, "eval", "--stories", str(corpus), "--redis", redis_url)
    assert status == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[1][:3] == ["tune", "newsmon", "stories"] and rows[1][3:6] == ["4", "2", "2"]
    assert rows[1][6:9] == ["1.000", "1.000", "1.000"]  # pairwise P R F1
    assert any(row[:2] == ["tune", "TF-IDF"] for row in rows)
    assert any(row[:3] == ["heldout", "newsmon", "stories"] for row in rows)
    assert "Near-duplicates, tune: precision 1.000 (1/1" in out
    assert redis_db.keys("*") == []
    status, out, _ = run(capsys, "eval", "--stories", str(corpus), "--redis", redis_url, "--json")
    report = json.loads(out)
    assert report["splits"]["tune"]["newsmon"]["pairwise_f1"] == 1.0
    assert report["splits"]["tune"]["how"][SYNDICATED["id"]] == "near_duplicate"


def test_eval_needs_a_corpus(capsys):
    status, _, err = run(capsys, "eval")
    assert status == 2 and err.count("\n") == 1 and "--stories" in err


def test_escape_sequences_and_script_links_never_reach_the_screen_or_a_webhook(capsys, redis_url, redis_db,
                                                                               tmp_path):
    from tests.connectors.test_webhook import Receiver
    from tests.servers import LiveFeed

    class HostileFeed(LiveFeed):
        def _render(self, items):
            return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                    "<title>Wire\x1b[2J</title><item><guid>urn:test:hostile</guid>"
                    "<title>\x1b]0;owned\x07Germany halts \x1b[31mNord Stream\x1b[0m 2</title>"
                    "<link>javascript:alert(document.cookie)</link>"
                    "<description>Berlin halted the Nord Stream\x9b2J pipeline.\x1b]8;;http://evil.example"
                    "\x1b\\ Click\x1b]8;;\x1b\\</description></item></channel></rss>").encode()

    server, receiver = HostileFeed(), Receiver()
    try:
        feedlist = tmp_path / "feeds.txt"
        feedlist.write_text(server.url + "\n", encoding="utf-8")
        run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url)
        status, out, _ = run(capsys, "poll", str(feedlist), "--once", "--allow-private", "--redis", redis_url)
        assert status == 0 and "\x1b" not in out
        status, out, _ = run(capsys, "alerts", "show", "ns2", "--redis", redis_url)
        assert status == 0 and "Germany halts Nord Stream 2" in out
        assert "url: -" in out and "javascript" not in out
        assert not any(char in out for char in "\x1b\x07\x9b")
        status, _, _ = run(capsys, "deliver", "ns2", "--webhook", receiver.url, "--once", "--from-start",
                           "--redis", redis_url)
        [body] = receiver.received
        assert body["title"] == "Germany halts Nord Stream 2" and body["url"] == ""
        assert body["source"] == "Wire"
        assert not any(char in json.dumps(body, ensure_ascii=False) for char in "\x1b\x07\x9b")
        assert "\\u001b" not in json.dumps(body)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        receiver.server.shutdown()
        receiver.server.server_close()


def test_subscribe_add_and_list_check_against_the_taxonomy_the_monitor_runs_with(capsys, caplog, redis_url,
                                                                                 redis_db, tmp_path, monkeypatch):
    monkeypatch.setattr("connectors.subscription_store._LOGGED", {})
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  piracy:\n    any: [piracy, pirates]\n  sanctions:\n    any: [sanctions]\n",
                      encoding="utf-8")
    run(capsys, "subscribe", "add", "cyber-desk", "--topic", "cyberattack", "--redis", redis_url)
    feedlist = tmp_path / "feeds.txt"
    feedlist.write_text("http://127.0.0.1:1/closed.xml\n", encoding="utf-8")
    # A feed run publishes its topics when it starts.
    status, _, err = run(capsys, "poll", str(feedlist), "--once", "--allow-private", "--topics", str(topics),
                         "--redis", redis_url)
    assert status == 1  # the one feed (a closed port) failed
    assert "subscription cyber-desk skipped: field 'topics': unknown topic 'cyberattack'" in caplog.text
    status, out, _ = run(capsys, "subscribe", "add", "piracy-desk", "--topic", "piracy", "--redis", redis_url)
    assert status == 0 and "piracy-desk saved" in out
    status, _, err = run(capsys, "subscribe", "add", "arctic", "--topic", "arctic_militarization",
                         "--redis", redis_url)
    assert status == 2 and "unknown topic 'arctic_militarization'" in err
    assert "the taxonomy the monitor runs with" in err and str(topics) in err
    status, out, _ = run(capsys, "subscribe", "list", "--redis", redis_url)
    assert out.splitlines() == [
        "cyber-desk (invalid: field 'topics': unknown topic 'cyberattack' (topics: piracy, sanctions)):"
        ' {"topics": ["cyberattack"]}',
        'piracy-desk: {"topics": ["piracy"]}']
    # --topics FILE still decides when given.
    status, _, _ = run(capsys, "subscribe", "add", "arctic", "--topic", "arctic_militarization",
                       "--topics", str(SEEDS / "topics.yaml"), "--redis", redis_url)
    assert status == 0


def test_a_stored_subscription_the_taxonomy_cannot_use_does_not_stop_a_replay(capsys, caplog, redis_url, redis_db):
    redis_db.hset("newsmon:subscriptions", "broken", "{not json")
    run(capsys, "subscribe", "add", "ns2", "--any", "nord stream", "--redis", redis_url)
    status, out, err = run(capsys, "replay", str(SEED_ARTICLE), "--redis", redis_url, "--no-progress")
    assert status == 0 and "subscription broken skipped: not valid JSON" in caplog.text
    assert "ns2                           1 matched, 1 new" in out


def test_eval_where_narrows_the_corpus_and_summary_prints_figures_only(capsys):
    from tests.conftest import FIXTURES

    corpus = str(FIXTURES / "entities" / "heldout.jsonl")
    status, out, _ = run(capsys, "eval", corpus, "--where", "split=tune", "--where", "id=ent-nytimes-1",
                         "--summary")
    assert status == 0 and out.startswith("Evaluated 1 articles.")
    assert "key-entity precision" in out and "Missed key entities" not in out and "Misses" not in out
    status, _, err = run(capsys, "eval", corpus, "--where", "split=nowhere")
    assert status == 2 and "no article" in err


def test_feeds_status_shows_a_capped_feed(capsys, redis_url, redis_db, tmp_path):
    from tests.servers import FeedItem, LiveFeed

    server = LiveFeed(etag=False)
    server.set_items([FeedItem(f"urn:big:{i}", f"Item {i}", "Text.", published=1_700_000_000 - i * 60)
                      for i in range(30)])
    try:
        feedlist = tmp_path / "feeds.txt"
        feedlist.write_text(server.url + "\n", encoding="utf-8")
        status, out, _ = run(capsys, "poll", str(feedlist), "--once", "--allow-private", "--max-items", "10",
                             "--redis", redis_url)
        assert status == 0 and "10 articles read" in out
        status, out, _ = run(capsys, "feeds", "status", "--redis", redis_url)
        assert "note: the feed offered 30 items; took the newest 10 (--max-items)" in out
        assert out.splitlines()[1].split()[:3] == ["ok", "200", "10"]
    finally:
        server.stop()


def test_deadletters_list_and_retry_undelivered_alerts(capsys, redis_url, redis_db):
    from tests.connectors.test_webhook import Receiver
    from tests.servers import free_port

    receiver = Receiver()
    try:
        for i in range(3):
            redis_db.xadd("newsmon:alerts:ns2", {"subscription": "ns2", "title": f"Story {i}", "id": str(i)})
        redis_db.xadd("newsmon:deadletter", {"stage": "fetch", "origin": "https://feed.example/rss",
                                             "error": "HTTP 500", "article_id": "", "payload": ""})
        receiver.responses = [(404, b"no such channel", {}), (410, b"channel archived", {})]
        status, _, err = run(capsys, "deliver", "ns2", "--webhook", receiver.url, "--once", "--from-start",
                             "--redis", redis_url)
        assert status == 1 and "delivered 1 alert(s)" in err and "2 moved to newsmon:deadletter" in err
        status, out, _ = run(capsys, "deadletters", "list", "--redis", redis_url)
        assert status == 0 and out.count("\n[") == 2 and out.startswith("[")
        assert "status: 410" in out and "response: channel archived" in out and "stage" not in out
        assert "fetch  https://feed.example/rss" in out
        status, out, _ = run(capsys, "deadletters", "list", "--stage", "deliver", "--json", "--redis", redis_url)
        dead = [json.loads(line) for line in out.splitlines()]
        assert [d["status"] for d in dead] == ["410", "404"]
        # The receiver is still down for the first re-send: it stays.
        receiver.responses = [503]
        status, _, err = run(capsys, "deadletters", "retry", dead[1]["entry"], "--redis", redis_url)
        assert status == 1 and "kept" in err and redis_db.xlen("newsmon:deadletter") == 3
        status, out, err = run(capsys, "deadletters", "retry", "--all", "--redis", redis_url)
        assert status == 0 and "2 sent again" in err
        assert sorted(body["title"] for body in receiver.received) == ["Story 0", "Story 1", "Story 2"]
        [(_, left)] = redis_db.xrange("newsmon:deadletter")
        assert left["stage"] == "fetch"
        # A pipeline failure cannot be re-sent; an unknown id is a usage error.
        status, _, err = run(capsys, "deadletters", "retry", redis_db.xrange("newsmon:deadletter")[0][0],
                             "--webhook", f"http://127.0.0.1:{free_port()}/hook", "--redis", redis_url)
        assert status == 1 and "fix the input and rerun" in err
        status, _, err = run(capsys, "deadletters", "retry", "1-0", "--redis", redis_url)
        assert status == 2 and "no dead letter '1-0'" in err
        [(left_id, _)] = redis_db.xrange("newsmon:deadletter")
        status, out, _ = run(capsys, "deadletters", "remove", left_id, "--redis", redis_url)
        assert status == 0 and redis_db.xlen("newsmon:deadletter") == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
