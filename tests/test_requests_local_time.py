"""A request given in the site's local time near a DST change finds the right clips, in two zones (Berlin and New
York change on different dates), and the DPO reads local times next to UTC. Clips are made in the test, each a
few frames with a sidecar giving its recording start in UTC; decoys sit where a wrong reading of the wall time
(as UTC, or with the offset before the change) would land."""

import json
from pathlib import Path

import pytest

from tests.test_ingest import CONFIG, invoke, tiny_clip


@pytest.fixture
def dst_archive(tmp_path: Path, backend):
    arch = tmp_path / "archive"
    arch.mkdir()
    (arch / "anonymizer.toml").write_text(backend.config_line(arch) + CONFIG.lstrip())
    assert invoke("init", str(arch)).exit_code == 0
    starts = {
        # Berlin (site hq, camera door): clocks go 02:00 CET -> 03:00 CEST on 31 March 2024
        "door/right.mp4": "2024-03-31T01:40:00Z",     # 03:40 CEST
        "door/as_cet.mp4": "2024-03-31T02:40:00Z",    # 03:40 read with +01:00
        "door/as_utc.mp4": "2024-03-31T03:40:00Z",    # 03:40 read as UTC
        # Berlin falls back 03:00 CEST -> 02:00 CET on 27 October 2024: 02:30 happens twice
        "door/first_0230.mp4": "2024-10-27T00:30:00Z",
        "door/second_0230.mp4": "2024-10-27T01:30:00Z",
        "door/cet_0330.mp4": "2024-10-27T02:30:00Z",  # 03:30 CET: outside
        # New York (site street, camera gate): 02:00 EST -> 03:00 EDT on 10 March 2024
        "gate/right.mp4": "2024-03-10T07:40:00Z",     # 03:40 EDT
        "gate/as_est.mp4": "2024-03-10T08:40:00Z",    # 03:40 read with -05:00
        "gate/as_utc.mp4": "2024-03-10T03:40:00Z",    # 03:40 read as UTC
    }
    batch = tmp_path / "batch"
    for i, (name, start) in enumerate(starts.items()):
        p = tiny_clip(batch / name, seed=3 * i + 1)
        p.with_name(p.name + ".json").write_text(json.dumps({"start": start}))
    r = invoke("ingest", str(batch), "-c", str(arch / "anonymizer.toml"))
    assert r.exit_code == 0, r.output
    return str(arch / "anonymizer.toml")


def _new(cfg, place, start, end, *extra):
    r = invoke("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-11-02", "--from", start,
               "--to", end, "--place", place, "--tolerance", "0", "--json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _found(cfg, rid):
    r = invoke("requests", "find", rid, "-c", cfg, "--json")
    assert r.exit_code == 0, r.output
    return sorted(Path(s["clip"]["uri"]).name for s in json.loads(r.stdout)["segments"])


def test_spring_forward_in_two_zones(dst_archive):
    cfg = dst_archive
    berlin = _new(cfg, "hq", "2024-03-31T03:35", "2024-03-31T03:45")
    assert berlin["window_start"].startswith("2024-03-31T01:35:00") and berlin["timezone"] == "Europe/Berlin"
    assert berlin["window_local"] == ["2024-03-31 03:35:00 CEST (+02:00)", "2024-03-31 03:45:00 CEST (+02:00)"]
    assert _found(cfg, berlin["id"]) == ["right.mp4"]
    ny = _new(cfg, "gate", "2024-03-10T03:35", "2024-03-10T03:45")
    assert ny["window_start"].startswith("2024-03-10T07:35:00") and ny["timezone"] == "America/New_York"
    assert _found(cfg, ny["id"]) == ["right.mp4"]
    found = json.loads(invoke("requests", "find", ny["id"], "-c", cfg, "--json").stdout)["segments"]
    assert found[0]["start_local"].startswith("2024-03-10 03:40:00.000 EDT (-04:00)")
    text = invoke("requests", "find", ny["id"], "-c", cfg).stdout
    assert "03:40:00.000 EDT" in text and "07:40:00" in text  # local time next to UTC


def test_fall_back_overlap_takes_both_readings(dst_archive):
    req = _new(dst_archive, "door", "2024-10-27T02:25", "2024-10-27T02:35")
    assert _found(dst_archive, req["id"]) == ["first_0230.mp4", "second_0230.mp4"]


def test_an_offset_or_tz_overrides_and_no_zone_is_refused(dst_archive):
    cfg = dst_archive
    # the same instants given with offsets
    req = _new(cfg, "hq", "2024-03-31T03:35+02:00", "2024-03-31T03:45+02:00")
    assert _found(cfg, req["id"]) == ["right.mp4"]
    # --tz UTC reads the wall time as UTC: that is the decoy, on purpose
    req = _new(cfg, "hq", "2024-03-31T03:35", "2024-03-31T03:45", "--tz", "UTC")
    assert _found(cfg, req["id"]) == ["as_utc.mp4"]
    # a point far from every site: no zone to read a wall time in, so it is refused with the fix
    r = invoke("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-11-02", "--from",
               "2024-03-31T03:35", "--to", "2024-03-31T03:45", "--place", "0,0")
    assert r.exit_code == 2 and "no UTC offset" in r.stderr and "--tz" in r.stderr and "Traceback" not in r.output
    req = _new(cfg, "0,0", "2024-03-31T03:35", "2024-03-31T03:45", "--tz", "Europe/Berlin")
    assert req["window_start"].startswith("2024-03-31T01:35:00")
    r = invoke("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-11-02", "--from", "x",
               "--to", "2024-03-31T03:45", "--place", "hq")
    assert r.exit_code == 2 and "ISO 8601" in r.output


def test_holds_add_reads_local_times_in_the_hold_site_zone(dst_archive):
    r = invoke("holds", "add", "-c", dst_archive, "--scope", "camera", "--target", "door", "--kind", "incident",
               "--reason", "investigation", "--owner", "ana", "--from", "2024-03-31T03:30",
               "--until", "2024-03-31T03:50", "--json")
    assert r.exit_code == 0, r.output
    (hold,) = json.loads(r.stdout)
    assert hold["start_utc"].startswith("2024-03-31T01:30:00") and hold["end_utc"].startswith("2024-03-31T01:50:00")
    assert hold["start_local"] == "2024-03-31 03:30:00 CEST (+02:00)" and hold["timezone"] == "Europe/Berlin"
    listed = invoke("holds", "list", "-c", dst_archive).stdout
    assert "[2024-03-31 03:30:00 CEST (+02:00) .. 2024-03-31 03:50:00 CEST (+02:00)]" in listed  # read in local time
    r = invoke("holds", "add", "-c", dst_archive, "--scope", "site", "--target", "street", "--kind", "incident",
               "--reason", "investigation", "--owner", "ana", "--from", "2024-03-10T03:30", "--json")
    (hold,) = json.loads(r.stdout)
    assert hold["start_utc"].startswith("2024-03-10T07:30:00")


def test_review_report_and_export_show_local_time(dst_archive, tmp_path):
    cfg = dst_archive
    req = _new(cfg, "hq", "2024-03-31T03:35", "2024-03-31T03:45")
    (seg,) = json.loads(invoke("requests", "find", req["id"], "-c", cfg, "--json").stdout)["segments"]
    page = json.loads(invoke("requests", "review", req["id"], "-c", cfg, "--json").stdout)["page"]
    html = Path(page).read_text()
    assert "2024-03-31 03:40:00.000 CEST" in html and "2024-03-31T01:40:00" in html
    out = tmp_path / "export"
    r = invoke("requests", "export", req["id"], "-c", cfg, "--out", str(out), "--segments", seg["id"], "--json")
    assert r.exit_code == 0, r.output
    item = json.loads((out / "manifest.json").read_text())["segments"][0]
    assert item["start_local"].startswith("2024-03-31 03:40:00.000 CEST") and item["timezone"] == "Europe/Berlin"
    assert item["start_utc"].startswith("2024-03-31T01:40:00")
    summary = (out / "summary.txt").read_text()
    assert "03:35:00 CEST" in summary and "03:40:00.000 CEST" in summary
    rep = json.loads(invoke("requests", "report", req["id"], "-c", cfg, "--json").stdout)
    report_html = Path(rep["html"]).read_text()
    assert "2024-03-31 03:40:00.000 CEST" in report_html and "2024-03-31T01:40:00" in report_html
