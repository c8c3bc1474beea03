"""Issue 30 item 10: the smaller DPO gaps. A point near no site is blamed on --place (not on --received); a window
in the future is warned about; --keep implies its segment in an export; a review date in the past is refused; a
hold id prefix may keep its 'h'; the fix for an unknown camera is valid TOML and a path is never offered as an id."""

import json
import re
from pathlib import Path

import pytest

from tests.test_ingest import CONFIG, invoke, tiny_clip
from tests.test_requests_e2e import make_clip


@pytest.fixture
def arch(tmp_path: Path) -> dict:
    """An archive on SQLite (the rules tested here are the same on PostgreSQL) with one clip of camera lab1
    ingested (site hq)."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "anonymizer.toml").write_text(CONFIG.lstrip())
    assert invoke("init", str(root)).exit_code == 0
    cfg = str(root / "anonymizer.toml")
    make_clip(root / "batch" / "lab1" / "a.mp4", 1, "2024-06-01T10:00:00Z")
    r = invoke("ingest", str(root / "batch"), "-c", cfg)
    assert r.exit_code == 0, r.output
    return {"root": root, "cfg": cfg}


def new(arch, *args):
    return invoke("requests", "new", "-c", arch["cfg"], "--kind", "access", *args)


def test_a_point_near_no_site_blames_the_place_and_lists_the_sites(arch):
    r = new(arch, "--received", "2024-06-05", "--from", "2024-06-01T10:00", "--to", "2024-06-01T11:00",
            "--place", "48.0,2.0")
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    line = r.stderr
    assert line.startswith("error: --place 48.0,2.0: no site within 100 m of this point"), line
    assert "--received" not in line
    assert "hq 952.3 km away, radius 150 m" in line and "street: no location" in line  # the sites, nearest first
    # With offsets the times need no zone: accepted, with a warning that nothing can match.
    r = new(arch, "--received", "2024-06-05T00:00Z", "--from", "2024-06-01T10:00Z", "--to", "2024-06-01T11:00Z",
            "--place", "48.0,2.0", "--json")
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("warning: --place 48.0,2.0: no site within 100 m") and r.stderr.count("\n") == 1
    assert "no recording can match it" in r.stderr


def test_a_window_in_the_future_is_accepted_with_a_warning(arch):
    r = new(arch, "--received", "2024-06-05", "--from", "2099-06-01T10:00", "--to", "2099-06-01T11:00",
            "--place", "hq", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["id"].startswith("r")
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("warning: the window starts in the future")
    assert "2099-06-01 10:00:00 CEST" in r.stderr
    past = new(arch, "--received", "2024-06-05", "--from", "2024-06-01T10:00", "--to", "2024-06-01T11:00",
               "--place", "hq")
    assert past.exit_code == 0 and past.stderr == ""


def test_keep_implies_its_segment_in_an_export(arch, tmp_path):
    r = new(arch, "--received", "2024-06-05", "--from", "2024-06-01T12:00:00", "--to", "2024-06-01T12:00:01",
            "--place", "lab1", "--json")
    rid = json.loads(r.stdout)["id"]
    (seg,) = json.loads(invoke("requests", "find", rid, "-c", arch["cfg"], "--json").stdout)["segments"]
    assert not seg["selected"]

    def export(*extra):
        return invoke("requests", "export", rid, "-c", arch["cfg"], "--out", str(tmp_path / "x"), *extra)

    implied = export("--keep", f"{seg['id']}:1")
    named = export("--keep", f"{seg['id']}:1", "--segments", seg["id"])
    # The segment is taken in both: the export goes on to the face, which no review found yet (no models needed).
    assert "no segment selected" not in implied.stderr
    assert implied.exit_code == named.exit_code != 0 and implied.stderr == named.stderr
    assert f"segment {seg['id']}: no face tracks were found" in implied.stderr
    unknown = export("--keep", "s00000000:1")
    assert unknown.exit_code != 0 and "has no segments s00000000" in unknown.stderr


def hold(arch, *extra):
    return invoke("holds", "add", "-c", arch["cfg"], "--scope", "site", "--target", "hq", "--kind", "rnd",
                  "--reason", "night set", "--owner", "lab", *extra)


def test_a_review_date_in_the_past_is_refused(arch):
    r = hold(arch, "--review", "2024-01-01")
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "--review 2024-01-01 00:00:00+01:00 is in the past" in r.stderr
    assert invoke("holds", "list", "-c", arch["cfg"]).stdout.strip() == "no holds"
    assert hold(arch, "--review", "2099-01-01").exit_code == 0


def test_a_hold_id_prefix_may_keep_its_h(arch):
    r = hold(arch, "--review", "2099-01-01", "--json")
    hid = json.loads(r.stdout)[0]["id"]
    assert re.fullmatch(r"h[0-9a-f]{12}", hid)
    r = invoke("holds", "release", hid[:4], "-c", arch["cfg"], "--reason", "done", "--json")  # h21d
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["id"] == hid
    for short in ("h12", "21d"):  # under 4 characters: refused, one line
        r = invoke("holds", "release", short, "-c", arch["cfg"], "--reason", "x")
        assert r.exit_code != 0 and r.stderr.count("\n") == 1 and "at least 4 characters" in r.stderr


def test_an_unknown_camera_gets_a_valid_fix_and_a_path_is_no_camera_id(arch, tmp_path):
    batch = tmp_path / "odd"
    for name, cam in (("x.mp4", "../../etc"), ("y.mp4", "cam.9")):
        tiny_clip(batch / name, 3)
        (batch / f"{name}.json").write_text(json.dumps({"start": "2024-06-01T10:00:00Z", "camera": cam}))
    r = invoke("ingest", str(batch), "-c", arch["cfg"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    x = next(line for line in r.stderr.splitlines() if "x.mp4" in line)
    y = next(line for line in r.stderr.splitlines() if "y.mp4" in line)
    assert "'../../etc' (from its sidecar) is not a valid camera id" in x and "[cameras" not in x
    assert "name a configured camera (lab1, gate, door)" in x
    table = re.search(r"fix: add (\[cameras\.[^\]]+\]) \(with its site and purpose\)", y).group(1)
    assert table == '[cameras."cam.9"]'  # quoted: a bare cam.9 would be a table "9" inside "cam"
    # The fix as suggested works: the table added, the clip is registered under that camera.
    with open(arch["cfg"], "a") as fh:
        fh.write(f'\n{table}\nsite = "hq"\npurpose = "rnd"\n')
    (batch / "x.mp4").unlink()
    r = invoke("ingest", str(batch), "-c", arch["cfg"], "--json")
    assert r.exit_code == 0, r.output
    (done,) = json.loads(r.stdout)["clips"]
    assert done["status"] == "registered"
    shown = invoke("clips", "show", done["clip"], "-c", arch["cfg"], "--json")
    assert json.loads(shown.stdout)["camera"] == "cam.9"
