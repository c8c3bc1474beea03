"""Times shown to people are in the site's local time, with the offset (issue 30 item 8); --json keeps UTC."""

import json
from pathlib import Path

from tests.test_ingest import archive, invoke, tiny_clip  # noqa: F401  (archive is a fixture)

BERLIN_NOON = "2024-06-01T12:00:00Z"  # 14:00 CEST at site hq (camera door)


def test_requests_close_shows_the_days_the_dpo_typed(archive: Path):  # noqa: F811
    cfg = str(archive / "anonymizer.toml")
    r = invoke("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-12-06", "--from",
               "2024-12-01T10:00", "--to", "2024-12-01T10:30", "--place", "hq", "--json")
    assert r.exit_code == 0, r.output
    rid = json.loads(r.stdout)["id"]
    r = invoke("requests", "close", rid, "-c", cfg, "--note", "nothing found")
    assert r.exit_code == 0, r.output
    line = r.stdout.splitlines()[0]
    assert "received 2024-12-06" in line and "due 2025-01-06" in line, line


def test_ingest_clips_and_purge_lines_are_in_local_time(archive: Path, tmp_path: Path):  # noqa: F811
    cfg = str(archive / "anonymizer.toml")
    tiny_clip(tmp_path / "batch" / "door" / "a.mp4", 1, metadata={"creation_time": BERLIN_NOON})
    r = invoke("ingest", str(tmp_path / "batch"), "-c", cfg)
    assert r.exit_code == 0 and "2024-06-01T14:00:00+02:00" in r.stdout, r.stdout
    r = invoke("clips", "list", "-c", cfg)
    assert "2024-06-01T14:00:00+02:00" in r.stdout and "12:00:00Z" not in r.stdout, r.stdout
    (clip,) = json.loads(invoke("clips", "list", "-c", cfg, "--json").stdout)
    assert clip["start"] == "2024-06-01T12:00:00+00:00"  # JSON stays UTC
    r = invoke("clips", "show", clip["id"], "-c", cfg)
    start = next(line for line in r.stdout.splitlines() if line.startswith("start "))
    assert "2024-06-01T14:00:00+02:00" in start, r.stdout
    r = invoke("purge", "--dry-run", "--list", "-c", cfg)
    line = next(line for line in r.stdout.splitlines() if clip["id"] in line)
    assert "deadline 2024-12-01T14:00:00+01:00" in line, line  # six months later, in winter time
