"""An emptied or missing catalogue is refused by every command but ``init`` (issue 29, item 5), and ``audit verify``
names every file of the archive that the catalogue does not own: a raw clip nobody owns has no deadline."""

import json
from pathlib import Path

import pytest

from anonymizer.errors import CatalogueError
from anonymizer.store.catalogue import Catalogue
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_run import setup_archive

#: Every command that opens the catalogue, with the arguments it needs to get that far.
COMMANDS = (
    ("clips", "list"), ("audit", "verify"), ("audit", "export"), ("purge",), ("purge", "--dry-run"),
    ("holds", "list"), ("requests", "list"), ("stats",), ("ingest", "BATCH"), ("run", "BATCH"),
)


def archive_with_a_clip(tmp_path: Path, backend=None) -> tuple[str, Path]:
    cfg = setup_archive(tmp_path, backend=backend)
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 91, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    assert invoke("ingest", str(batch), "-c", cfg).exit_code == 0
    (clip,) = rows(tmp_path / "archive")
    assert Path(clip.uri).is_relative_to(tmp_path / "archive")
    return cfg, Path(clip.uri)


def refused(cfg: str, batch: Path, why: str) -> None:
    for command in COMMANDS:
        args = [str(batch) if a == "BATCH" else a for a in command]
        r = invoke(*args, "-c", cfg)
        assert r.exit_code == 1, (command, r.output)
        (line,) = r.stderr.strip().splitlines()
        assert line.startswith("error: ") and why in line and "anonymizer init" in line, (command, line)


def test_an_emptied_catalogue_is_refused_not_recreated(tmp_path: Path):
    cfg, raw = archive_with_a_clip(tmp_path)
    db = tmp_path / "archive" / "catalogue.sqlite"
    db.write_bytes(b"")  # truncated to 0 bytes: a disk full, a bad restore, a careless hand
    for sidecar in ("-wal", "-shm"):
        Path(str(db) + sidecar).unlink(missing_ok=True)
    refused(cfg, tmp_path / "batch", "is empty")
    assert db.stat().st_size == 0  # nothing re-created it
    assert raw.exists()

    db.unlink()
    refused(cfg, tmp_path / "batch", "no catalogue")
    assert not db.exists()


def test_init_makes_a_new_catalogue_and_verify_names_the_orphans(tmp_path: Path):
    cfg, raw = archive_with_a_clip(tmp_path)
    db = tmp_path / "archive" / "catalogue.sqlite"
    db.write_bytes(b"")
    for sidecar in ("-wal", "-shm"):
        Path(str(db) + sidecar).unlink(missing_ok=True)
    assert invoke("init", str(tmp_path / "archive")).exit_code == 0  # only init may make one
    r = invoke("audit", "verify", "-c", cfg, "--json")
    assert r.exit_code == 1
    problems = json.loads(r.stdout)["problems"]
    assert [p for p in problems if str(raw) in p] and all("no clip or artefact owns" in p for p in problems)
    sidecar = Path(str(raw) + ".json")
    assert len(problems) == 1 + sidecar.exists()


def test_verify_names_a_file_nobody_owns_in_an_intact_archive(tmp_path: Path, backend):
    cfg, raw = archive_with_a_clip(tmp_path, backend)
    r = invoke("audit", "verify", "-c", cfg, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["problems"] == []  # the clip, the config, the catalogue: owned

    stray = raw.parent / "left-behind.mp4"
    stray.write_bytes(raw.read_bytes()[:1000])
    nested = tmp_path / "archive" / "raw" / "x" / "y.mkv"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"\x00" * 10)
    r = invoke("audit", "verify", "-c", cfg, "--json")
    assert r.exit_code == 1
    problems = json.loads(r.stdout)["problems"]
    assert sorted(p.split(":")[0] for p in problems) == sorted([str(stray), str(nested)])
    r = invoke("audit", "verify", "-c", cfg)
    assert r.exit_code == 1 and "left-behind.mp4" in r.stderr and "nobody" not in r.stdout


def test_an_empty_catalogue_opens_only_when_asked_to_create(tmp_path: Path, backend):
    url = backend.url(tmp_path / "arch")
    if backend.name == "sqlite":
        (tmp_path / "arch").mkdir()
        (tmp_path / "arch" / "catalogue.sqlite").write_bytes(b"")
    with pytest.raises(CatalogueError, match="is empty") as exc:
        Catalogue.open(url)  # a PostgreSQL database without tables is as empty as a 0-byte file
    assert "\n" not in str(exc.value)
    Catalogue.open(url, create=True).close()
    Catalogue.open(url).close()
