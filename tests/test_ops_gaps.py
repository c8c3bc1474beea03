"""Issue 30 item 4, the rest: reports and the quarantine rename flushed to disk; the video published before its
report; an output implausibly small or of another frame size refused; an unexpected error in one clip of an
in-process batch is that clip's one-line error, not a traceback."""

import os
from pathlib import Path

import pytest

from anonymizer import safe_files
from anonymizer.errors import VerificationError
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media import writer as writer_module
from anonymizer.pipelines import anonymise as anonymise_module
from anonymizer.pipelines import batch as batch_module
from anonymizer.pipelines.anonymise import anonymise_file, quarantine_path_for, report_path_for
from anonymizer.settings import AnonymiseSettings
from tests.test_anonymise_privacy import Wandering
from tests.test_ingest import invoke, tiny_clip


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return tiny_clip(tmp_path / "in" / "a.mp4", 1, n=4)


def record_fsyncs(monkeypatch) -> list[tuple[str, Path]]:
    events: list[tuple[str, Path]] = []
    real_file, real_dir = safe_files.fsync_file, safe_files.fsync_dir
    monkeypatch.setattr(safe_files, "fsync_file", lambda p: (events.append(("file", Path(p))), real_file(p))[1])
    monkeypatch.setattr(safe_files, "fsync_dir", lambda p: (events.append(("dir", Path(p))), real_dir(p))[1])
    return events


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if "partial" in p.name]


def test_the_report_is_flushed_before_its_rename_and_its_folder_after(tmp_path, clip, detectors, monkeypatch):
    events = record_fsyncs(monkeypatch)
    dst = tmp_path / "out" / "a.mp4"
    anonymise_file(clip, dst, AnonymiseSettings(), detectors)
    report = report_path_for(dst)
    assert report.exists()
    flushed = [i for i, (kind, p) in enumerate(events) if kind == "file" and p.name.startswith(f".{report.name}.")]
    assert flushed, events  # the report's temporary file, flushed before it became the report
    assert ("dir", dst.parent) in events[flushed[-1] + 1:]  # and the rename flushed after


def test_the_quarantine_rename_is_flushed(tmp_path, detectors, monkeypatch):
    src = tiny_clip(tmp_path / "in" / "q.mp4", 2, n=6)
    out = tmp_path / "out"
    check = dict(detectors)
    check["plate"] = LoadedDetector(Wandering(detectors["plate"].detector), detectors["plate"].model)
    events = record_fsyncs(monkeypatch)
    report = anonymise_file(src, out / "q.mp4", AnonymiseSettings(), detectors, check_detectors=check, out_root=out)
    q = quarantine_path_for(out / "q.mp4", out)
    assert report.quarantined and q.exists() and report_path_for(q).exists()
    video = next(i for i, (kind, p) in enumerate(events) if kind == "file" and p.suffix == ".mp4")
    assert events[video][1].parent == out  # the temporary file, flushed where it was written
    assert {("dir", q.parent), ("dir", out)} <= set(events[video + 1:])  # both folders of the rename
    assert any(kind == "file" and p.name.startswith(f".{report_path_for(q).name}.") for kind, p in events)
    assert not leftovers(out)


def test_a_failed_publish_leaves_no_report_claiming_the_output(tmp_path, clip, detectors, monkeypatch):
    dst = tmp_path / "out" / "a.mp4"
    anonymise_file(clip, dst, AnonymiseSettings(), detectors)  # an earlier output and its report
    real = safe_files.publish

    def failing(tmp: Path, path: Path) -> None:
        if path == dst:
            raise OSError(5, "Input/output error", str(path))
        real(tmp, path)

    monkeypatch.setattr(safe_files, "publish", failing)
    with pytest.raises(OSError):
        anonymise_file(clip, dst, AnonymiseSettings(), detectors, overwrite=True)
    # The earlier report is gone with the failed run: no report on disk describes a video that is not there.
    assert not report_path_for(dst).exists()
    assert not leftovers(dst.parent)
    fresh = tmp_path / "fresh" / "a.mp4"
    with pytest.raises(OSError):
        monkeypatch.setattr(safe_files, "publish", lambda tmp, path: (_ for _ in ()).throw(OSError(5, "EIO")))
        anonymise_file(clip, fresh, AnonymiseSettings(), detectors)
    assert not fresh.exists() and not report_path_for(fresh).exists() and not leftovers(fresh.parent)


def test_an_empty_output_is_refused_naming_the_file(tmp_path, clip, detectors, monkeypatch):
    real_finish = writer_module.VideoWriter.finish

    def truncating(self):
        path = real_finish(self)
        os.truncate(path, 0)  # the disk filled up, say
        return path

    monkeypatch.setattr(writer_module.VideoWriter, "finish", truncating)
    dst = tmp_path / "out" / "a.mp4"
    with pytest.raises(VerificationError) as caught:
        anonymise_file(clip, dst, AnonymiseSettings(), detectors)
    message = str(caught.value)
    assert message.startswith(f"{dst}:") and "implausibly small" in message and "0 bytes for 4 frames" in message
    assert not dst.exists() and not report_path_for(dst).exists() and not leftovers(dst.parent)


def test_an_output_of_another_frame_size_is_refused(tmp_path, clip, detectors, monkeypatch):
    real = anonymise_module.read_packet_times
    monkeypatch.setattr(anonymise_module, "read_packet_times", lambda p: (lambda t, s, tb: (t, (80, 60), tb))(*real(p)))
    dst = tmp_path / "out" / "a.mp4"
    with pytest.raises(VerificationError) as caught:
        anonymise_file(clip, dst, AnonymiseSettings(), detectors)
    message = str(caught.value)
    assert message.startswith(f"{dst}:") and "80x60" in message and "160x120" in message
    assert not dst.exists() and not report_path_for(dst).exists() and not leftovers(dst.parent)


def test_an_unexpected_error_in_one_clip_of_an_in_process_batch_is_one_line(tmp_path, detectors, monkeypatch):
    tiny_clip(tmp_path / "in" / "a.mp4", 1)
    tiny_clip(tmp_path / "in" / "b.mp4", 2)
    real = batch_module.anonymise_file

    def buggy(src, dst, *args, **kwargs):
        if src.name == "a.mp4":
            raise RuntimeError("index out of range in the tracker")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(batch_module, "anonymise_file", buggy)
    monkeypatch.setattr(batch_module, "open_detectors", lambda *a, **k: detectors)
    out = tmp_path / "out"
    r = invoke("anonymise", str(tmp_path / "in"), "--out", str(out), "-j", "1")
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a.mp4" in errors[0] and "RuntimeError: index out of range" in errors[0]
    assert (out / "b.mp4").exists() and report_path_for(out / "b.mp4").exists()  # the batch went on
    assert not (out / "a.mp4").exists()
