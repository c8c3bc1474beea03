"""Walking a batch folder (issues 29 item 4, 30 items 2 and 4): a symlink loop or a folder that cannot be read is
named on stderr with its cause and a fix, the rest of the batch goes on, and the exit code says something was
left out (3), under ``anonymise``, ``ingest`` and ``run`` alike."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from anonymizer.pipelines.batch import plan_tasks
from tests.test_ingest import invoke, tiny_clip
from tests.test_read_only import as_reader
from tests.test_run import setup_archive

T0 = {"creation_time": "2024-06-01T12:00:00Z"}
FAST = ("--face-stride", "1", "--plate-stride", "1")


def loop(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(folder / "loop-b.mp4", folder / "loop-a.mp4")
    os.symlink(folder / "loop-a.mp4", folder / "loop-b.mp4")


def test_plan_names_a_symlink_loop_instead_of_raising(tmp_path: Path):
    loop(tmp_path / "in" / "door")
    (tmp_path / "in" / "door" / "x.mp4").write_bytes(b"not read while planning")
    problems: list = []
    tasks = plan_tasks([tmp_path / "in"], tmp_path / "out", problems)
    assert [t.src.name for t in tasks] == ["x.mp4"]
    assert sorted(p.task.src.name for p in problems) == ["loop-a.mp4", "loop-b.mp4"]
    assert all("symlink loop" in p.error and "fix:" in p.error for p in problems)


def test_plan_tasks_gives_colliding_names_distinct_outputs(tmp_path: Path):
    """x.avi and x.mp4 in one folder would both become x.mp4: the converted one keeps its whole name."""
    for name in ("x.avi", "x.mp4", "y.avi"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    outs = {t.src.name: t.dst.name for t in plan_tasks([tmp_path / "in"], tmp_path / "out")}
    assert outs == {"x.avi": "x.avi.mp4", "x.mp4": "x.mp4", "y.avi": "y.mp4"}


def test_anonymise_a_folder_with_a_symlink_loop(tmp_path: Path, models_ready):
    tiny_clip(tmp_path / "in" / "door" / "good.mp4", 7)
    loop(tmp_path / "in" / "door")
    r = invoke("anonymise", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "-j", "1", *FAST)
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    assert r.exit_code == 3, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and all("symlink loop" in e and "fix:" in e for e in errors), errors
    assert (tmp_path / "out" / "door" / "good.mp4").is_file()


@pytest.fixture
def shared_root():
    """A folder another user can reach (pytest's own tmp folders are private to root), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="anonymizer-walk-"))
    os.chmod(root, 0o755)
    yield root
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, 0o700)
    shutil.rmtree(root)


def locked_batch(root: Path) -> tuple[Path, Path]:
    """A batch whose camera folder holds a clip and a sub-folder that cannot be read (mode 000), everything else
    owned by the user the CLI runs as (nobody when we are root)."""
    batch = root / "batch"
    tiny_clip(batch / "door" / "good.mp4", 11, metadata=T0)
    secret = batch / "door" / "locked"
    tiny_clip(secret / "hidden.mp4", 12, metadata=T0)
    if os.geteuid() == 0:
        for p in [root, *root.rglob("*")]:
            os.chown(p, 65534, 65534, follow_symlinks=False)
    os.chmod(secret, 0)
    return batch, secret


def assert_named(r, secret: Path) -> None:
    assert "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    mine = [e for e in errors if str(secret) in e]
    assert len(mine) == 1 and "cannot read this folder" in mine[0] and "fix:" in mine[0], r.stderr
    assert r.returncode == 3, (r.stdout, r.stderr)


def test_ingest_names_an_unreadable_folder(shared_root: Path):
    batch, secret = locked_batch(shared_root)
    cfg = setup_archive(shared_root)
    if os.geteuid() == 0:
        for p in [shared_root / "archive", *(shared_root / "archive").rglob("*")]:
            os.chown(p, 65534, 65534)
    r = as_reader(["ingest", str(batch), "-c", cfg], shared_root)
    assert_named(r, secret)
    assert "1 registered" in r.stderr and "1 failed" in r.stderr


def test_anonymise_names_an_unreadable_folder(shared_root: Path, models_ready):
    batch, secret = locked_batch(shared_root)
    r = as_reader(["anonymise", str(batch), "--out", str(shared_root / "out"), "-j", "1", *FAST], shared_root)
    assert_named(r, secret)
    assert (shared_root / "out" / "door" / "good.mp4").is_file()


def test_run_names_an_unreadable_folder(shared_root: Path, models_ready):
    batch, secret = locked_batch(shared_root)
    cfg = setup_archive(shared_root)
    if os.geteuid() == 0:
        for p in [shared_root / "archive", *(shared_root / "archive").rglob("*")]:
            os.chown(p, 65534, 65534)
    r = as_reader(["run", str(batch), "-c", cfg, "-j", "1", *FAST], shared_root)
    assert_named(r, secret)
