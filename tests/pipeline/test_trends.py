"""Counting and surge detection through the commands: replay, trends, spikes, --on-spike alerts."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.cli import main
from pipeline.commands.trends import parse_duration, sparkline

START = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
BURST = START + timedelta(days=9, hours=14)
OUTLETS = ["reuters.example", "ap.example", "bbc.example", "dw.example", "afp.example", "ft.example",
           "nyt.example", "wapo.example", "lemonde.example", "yle.example", "nrk.example", "svt.example"]


def _line(i, moment, title, text, source):
    return json.dumps({"id": f"art-{i}", "title": title, "text": text, "source": source,
                       "published": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})


def _archive(path):
    """Nine days of everyday sanctions news (one article every three hours), then on day nine
    a burst: 20 articles in an hour from 12 outlets about Gazprom and new sanctions."""
    lines = []
    for i in range(9 * 8):
        moment = START + timedelta(hours=3 * i, minutes=7)
        lines.append(_line(i, moment, f"Treasury weighs sanctions review {i}",
                           "The EU imposed new sanctions on exporters, officials in Brussels said on Monday.",
                           OUTLETS[i % 3]))
    for k in range(20):
        moment = BURST + timedelta(minutes=3 * k)
        lines.append(_line(1000 + k, moment, "EU sanctions hit Gazprom as gas flows stop",
                           "The EU imposed sanctions on Gazprom on Tuesday, and Gazprom halted gas flows to "
                           "Germany, officials in Berlin said.", OUTLETS[k % len(OUTLETS)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def replayed(capsys, redis_url, tmp_path):
    archive = _archive(tmp_path / "archive.jsonl")
    status, _, _ = run(capsys, "subscribe", "add", "sanctions-surge", "--on-spike", "topic:sanctions",
                       "--level", "low", "--redis", redis_url)
    assert status == 0
    status, out, err = run(capsys, "replay", archive, "--redis", redis_url, "--no-progress")
    assert status == 0, err
    return out


def test_replay_counts_its_history_and_finds_the_surge_on_event_time(capsys, redis_url, redis_db, replayed):
    assert "Surges: " in replayed and "sanctions" in replayed
    until = (BURST + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    status, out, _ = run(capsys, "spikes", "--since", "30d", "--until", until, "--json", "--redis", redis_url)
    assert status == 0
    surges = [json.loads(line) for line in out.splitlines()]
    topic = [s for s in surges if s["series"] == "topic:sanctions"]
    assert topic and topic[0]["alert"] == "new"
    at = datetime.fromisoformat(topic[0]["at"].replace("Z", "+00:00"))
    assert BURST < at <= BURST + timedelta(minutes=45)  # on the articles' own time
    assert int(topic[0]["sources"]) >= 3
    assert topic[0]["stories"] and "Gazprom" in topic[0]["stories"][0]["title"]
    assert "entity:Gazprom" in {s["series"] for s in surges}
    # The --on-spike subscription got an alert, readable like any other.
    [(_, alert)] = redis_db.xrange("newsmon:alerts:sanctions-surge")[:1]
    assert alert["title"].startswith("sanctions surges:") and alert["spike_level"] in ("low", "medium", "high")
    status, out, _ = run(capsys, "alerts", "show", "sanctions-surge", "--redis", redis_url)
    assert status == 0 and "sanctions surges" in out


def test_replay_twice_counts_once(capsys, redis_url, redis_db, tmp_path):
    archive = _archive(tmp_path / "archive.jsonl")
    spikes = None
    for _ in range(2):
        assert run(capsys, "replay", archive, "--redis", redis_url, "--no-progress")[0] == 0
        if spikes is None:
            spikes = redis_db.xlen("newsmon:spikes")
    stats = redis_db.hgetall("newsmon:count:stats")
    assert int(stats["counted"]) == 92 and int(stats["duplicate"]) == 92  # the second replay counted nothing
    assert spikes and redis_db.xlen("newsmon:spikes") == spikes  # ... and announced nothing again


def test_trends_prints_counts_a_sparkline_and_the_band(capsys, redis_url, replayed, tmp_path):
    until = (BURST + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    status, out, _ = run(capsys, "trends", "--since", "24h", "--topic", "sanctions", "--until", until,
                         "--redis", redis_url)
    assert status == 0
    assert out.startswith("sanctions (topic:sanctions): ") and "per hour" in out
    assert "<- above" in out and "surge " in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")
    status, out, _ = run(capsys, "trends", "--since", "9d", "--until", until, "--redis", redis_url)
    assert status == 0 and "topic:" in out and "sanctions" in out and "Gazprom" in out
    picture = tmp_path / "sanctions.png"
    status, out, _ = run(capsys, "trends", "--since", "3d", "--topic", "sanctions", "--until", until,
                         "--plot", picture, "--json", "--redis", redis_url)
    assert status == 0 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(out)
    assert data["resolution"] == "day" or data["resolution"] == "hour"
    assert data["surges"] and sum(p["count"] for p in data["points"]) == data["total"]
    svg = tmp_path / "gazprom.svg"
    status, _, _ = run(capsys, "trends", "--since", "2d", "--entity", "gazprom", "--until", until,
                       "--plot", svg, "--redis", redis_url)
    assert status == 0 and "<svg" in svg.read_text()


def test_trends_and_spikes_on_nothing_and_bad_input(capsys, redis_url, tmp_path):
    status, out, _ = run(capsys, "trends", "--since", "7d", "--redis", redis_url)
    assert status == 0 and "nothing counted yet" in out
    status, out, _ = run(capsys, "spikes", "--redis", redis_url)
    assert status == 0 and out.startswith("no surges")
    status, _, err = run(capsys, "trends", "--since", "seven days", "--redis", redis_url)
    assert status == 2 and "--since" in err
    status, _, err = run(capsys, "trends", "--topic", "sanctions", "--plot", tmp_path / "x.txt", "--redis", redis_url)
    assert status == 2 and ".png or .svg" in err
    status, _, err = run(capsys, "subscribe", "add", "s", "--on-spike", "topic:sanctions", "--any", "x",
                         "--redis", redis_url)
    assert status == 2 and "--on-spike" in err
    status, _, err = run(capsys, "subscribe", "add", "s", "--on-spike", "nonsense", "--redis", redis_url)
    assert status == 2 and "on_spike" in err
    with pytest.raises(SystemExit):
        main(["spikes", "--level", "extreme"])


def test_duration_and_sparkline():
    assert parse_duration("90m") == 5400 and parse_duration("7d") == 7 * 86400
    assert sparkline([0, 1, 2, 8]) == "▁▂▃█" and sparkline([0, 0]) == "▁▁"
    assert len(sparkline(range(200), 50)) == 50


def test_eval_spikes_reports_recall_delay_and_false_alarms(capsys):
    status, out, _ = run(capsys, "eval", "--spikes", "--series", "4", "--seeds", "tune", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["seed_set"] == "tune" and set(report["tiers"]) == {"sparse", "quiet", "busy"}
    busy = report["tiers"]["busy"]
    assert busy["series_days"] == 2 * 14 * 3 and "5x 2h" in busy["bursts"]  # 2 series, 14 days, 3 seeds
    assert "false_alarms_per_1000_series_days" in busy
    status, _, err = run(capsys, "eval", "--spikes", "some.jsonl")
    assert status == 2 and "--spikes" in err
