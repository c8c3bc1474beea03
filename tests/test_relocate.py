"""Moving an archive (issue 9): copied or restored to another mount point, it keeps every promise there."""

import shutil
from pathlib import Path

from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_requests_e2e import cli_json
from tests.test_run import archive_config, setup_archive


def test_an_archive_copied_elsewhere_is_purged_there_and_the_original_is_untouched(tmp_path: Path, backend):
    """The archive folder copied (a PostgreSQL catalogue restored from its backup into another database, as an
    archive restored elsewhere would have it)."""
    cfg = setup_archive(tmp_path / "old", backend=backend)
    old = tmp_path / "old" / "archive"
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 81, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "door" / "b.mp4", 82, metadata={"creation_time": "2024-06-01T12:01:00Z"})
    assert invoke("ingest", str(batch), "-c", cfg).exit_code == 0
    req = cli_json("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-06-05",
                   "--from", "2024-06-01T12:00:00Z", "--to", "2024-06-01T12:00:01Z", "--place", "door")
    cli_json("requests", "find", req["id"], "-c", cfg)
    cli_json("requests", "review", req["id"], "-c", cfg)

    new = tmp_path / "restored" / "footage"  # another mount point, another name
    shutil.copytree(old, new, symlinks=True)
    new_cfg = str(new / "anonymizer.toml")
    backend.copy(old, new)
    Path(new_cfg).write_text(archive_config(new, backend))
    r = invoke("purge", "-c", new_cfg)
    assert r.exit_code == 0, r.output
    assert "outside the archive root" not in r.output
    moved = rows(new)
    assert moved and all(c.state == "deleted" for c in moved)  # due (2 months after June 2024): purged there
    assert all(c.uri.startswith(str(new) + "/") for c in moved)
    assert not list((new / "raw").rglob("*.mp4"))
    # the original archive is untouched: its own catalogue still points at its own files
    assert all(c.state == "raw" and Path(c.uri).exists() and c.uri.startswith(str(old) + "/") for c in rows(old))
    # the request's review page moved with it; audit verify is clean, and records the move
    shown = cli_json("requests", "find", req["id"], "-c", new_cfg)
    assert all(a["path"].startswith(str(new) + "/") for a in shown["artefacts"])
    r = invoke("audit", "verify", "-c", new_cfg)
    assert r.exit_code == 0, r.output
    assert "archive.relocated" in invoke("audit", "export", "-c", new_cfg).output


def test_a_configuration_pointing_at_the_wrong_folder_changes_nothing(tmp_path: Path, backend):
    cfg = setup_archive(tmp_path, backend=backend)
    arch = tmp_path / "archive"
    tiny_clip(tmp_path / "batch" / "door" / "a.mp4", 83, metadata={"creation_time": "2024-06-01T12:00:00Z"})
    assert invoke("ingest", str(tmp_path / "batch"), "-c", cfg).exit_code == 0
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    text = (arch / "anonymizer.toml").read_text().replace('archive = "."', f'archive = "{elsewhere}"')
    if backend.name == "sqlite":
        text = f'catalogue = "sqlite:///{arch / "catalogue.sqlite"}"\n' + text
    (tmp_path / "wrong.toml").write_text(text)
    r = invoke("purge", "-c", str(tmp_path / "wrong.toml"))
    assert r.exit_code != 0 and "its clips are not there" in r.stderr and "Traceback" not in r.output
    assert all(c.state == "raw" and c.uri.startswith(str(arch)) for c in rows(arch))
