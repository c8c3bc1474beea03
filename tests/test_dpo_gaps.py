"""The DPO's smaller gaps: a report written before close says it is not final and close writes the final one;
holds are released by a unique id prefix; stats do not round short clips to zero."""

import json
from pathlib import Path

from anonymizer.cli.stats import duration_text
from tests.test_requests_e2e import cli_json, invoke, new, world  # noqa: F401  (world is a fixture)


def test_report_before_close_is_a_draft_and_close_writes_the_final_one(world):  # noqa: F811
    req = new(world, "access", "2024-06-01T10:00:00.2Z", "2024-06-01T10:00:00.6Z", "gate")
    cli_json("requests", "find", req["id"], "-c", world["cfg"])
    draft = cli_json("requests", "report", req["id"], "-c", world["cfg"])
    doc = json.loads(Path(draft["json"]).read_text())
    assert doc["final"] is False and doc["request"]["status"] == "open"
    assert "not final" in Path(draft["html"]).read_text()
    closed = cli_json("requests", "close", req["id"], "-c", world["cfg"], "--note", "sent by mail")
    assert closed["status"] == "closed" and closed["report"]["json"] == draft["json"]
    doc = json.loads(Path(draft["json"]).read_text())
    assert doc["final"] is True and doc["request"]["status"] == "closed"
    assert "request.close" in [e["action"] for e in doc["events"]]
    page = Path(draft["html"]).read_text()
    assert "not final" not in page and "Status: closed" in page and "sent by mail" in page
    text = invoke("requests", "close", req["id"], "-c", world["cfg"])
    assert text.exit_code != 0 and "already closed" in text.stderr


def test_holds_release_by_unique_prefix(world):  # noqa: F811
    def add():
        return cli_json("holds", "add", "-c", world["cfg"], "--scope", "site", "--target", "hq", "--kind", "legal",
                        "--reason", "case 7", "--owner", "ana")[0]["id"]
    ids = [add() for _ in range(2)]
    a, b = ids
    common = next(i for i in range(1, 13) if a[:i + 1] != b[:i + 1])  # length of the shared prefix
    if common >= 5:  # 4+ hex digits shared by chance: the prefix is ambiguous
        r = invoke("holds", "release", a[:common], "-c", world["cfg"], "--reason", "x")
        assert r.exit_code != 0 and "ambiguous" in r.stderr
    r = invoke("holds", "release", a[1:9], "-c", world["cfg"], "--reason", "closed")  # without the 'h'
    assert r.exit_code == 0, r.output
    assert a in r.stdout and "released" in r.stdout
    r = invoke("holds", "release", b[:7], "-c", world["cfg"], "--reason", "closed", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["id"] == b
    for bad in ("h12", "zzzz", "h00000000"):
        r = invoke("holds", "release", bad, "-c", world["cfg"], "--reason", "x")
        assert r.exit_code != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.output


def test_stats_show_short_clips(world):  # noqa: F811
    rows = cli_json("stats", "-c", world["cfg"])
    hq = next(r for r in rows if r["site"] == "hq")
    assert hq["recorded_clips"] == 2 and hq["recorded_seconds"] == 3.2 and hq["recorded_hours"] > 0
    text = invoke("stats", "-c", world["cfg"]).stdout
    assert "0:00:03.20" in text and "0:00:01.60" in text
    assert duration_text(0.0) == "0:00:00.00" and duration_text(3725.4) == "1:02:05"
