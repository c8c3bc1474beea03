"""``--accept-residual`` after a quarantine publishes the quarantined copy (no detector runs again), only for the
same input and settings; and every video report says what share of the picture it redacted."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from anonymizer.imaging.scene import scene_frames
from anonymizer.inference.detectors import LoadedDetector
from anonymizer.media.synth import write_video
from anonymizer.pipelines import anonymise
from anonymizer.pipelines.anonymise import anonymise_file, quarantine_path_for, report_path_for
from anonymizer.settings import AnonymiseSettings
from tests.test_anonymise_privacy import Wandering

pytestmark = pytest.mark.slow


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> Path:
    frames = [f for f, _ in scene_frames(320, 180, 12)]
    return write_video(tmp_path_factory.mktemp("in") / "scene.mp4", frames)


def test_accept_residual_publishes_the_quarantined_copy(tmp_path, detectors, small_clip, monkeypatch) -> None:
    src = tmp_path / "in" / "scene.mp4"
    src.parent.mkdir()
    shutil.copy(small_clip, src)
    out = tmp_path / "out"
    dst = out / "scene.mp4"
    opened = []  # every detector run of the pipeline goes through a FrameDetector it makes per pass

    class Counting(anonymise.FrameDetector):
        def __init__(self, *args, **kwargs) -> None:
            opened.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(anonymise, "FrameDetector", Counting)
    counted = detectors
    check = dict(counted)
    wandering = Wandering(detectors["plate"].detector)
    check["plate"] = LoadedDetector(wandering, detectors["plate"].model)
    settings = AnonymiseSettings()
    first = anonymise_file(src, dst, settings, counted, check_detectors=check, out_root=out)
    q = quarantine_path_for(dst, out)
    assert first.quarantined and q.exists() and report_path_for(q).exists()
    assert first.input_file["sha256"] == sha(src) and first.input_file["bytes"] == src.stat().st_size
    # Every report says what share of the picture it redacted (the wandering findings are redacted too).
    share = first.redacted_share
    assert 0 < share["mean"] < 1 and share["worst"] >= share["mean"] and 0 <= share["worst_frame"] < first.frames
    quarantined_sha = sha(q)
    runs = (len(opened), wandering.calls)
    assert runs[0] > 0

    accepted = anonymise_file(src, dst, settings, counted, check_detectors=check, out_root=out,
                              accept_residual=True)
    assert (len(opened), wandering.calls) == runs  # nothing ran again
    assert accepted.status == "published" and not accepted.quarantined and accepted.output == str(dst)
    assert accepted.residual["accepted"] and accepted.residual["accepted_from_quarantine"]
    assert accepted.possible_leaks == [] and accepted.residual["possible_leaks"]
    assert sha(dst) == quarantined_sha
    written = json.loads(report_path_for(dst).read_text())
    assert written["status"] == "published" and written["output"] == str(dst) and written["residual"]["accepted"]
    assert written["redacted_share"] == share
    assert not q.exists() and not report_path_for(q).exists()
    assert not [p for p in q.parent.iterdir() if p.name.startswith((".scene", "scene"))]


def test_changed_settings_or_input_are_processed_again(tmp_path, detectors, small_clip) -> None:
    src = tmp_path / "in" / "scene.mp4"
    src.parent.mkdir()
    shutil.copy(small_clip, src)
    out = tmp_path / "out"
    dst = out / "scene.mp4"

    def check() -> tuple[dict, Wandering]:
        wandering = Wandering(detectors["plate"].detector)
        return {**detectors, "plate": LoadedDetector(wandering, detectors["plate"].model)}, wandering

    first = anonymise_file(src, dst, AnonymiseSettings(), detectors, check_detectors=check()[0], out_root=out)
    assert first.quarantined
    # Other settings: processed again, not published from the quarantine.
    detectors_check, wandering = check()
    other = anonymise_file(src, dst, AnonymiseSettings().with_(crf=30), detectors, check_detectors=detectors_check,
                           out_root=out, accept_residual=True)
    assert wandering.calls > 0 and "accepted_from_quarantine" not in other.residual and other.residual["accepted"]
    # Another input at the same path (the quarantine still holds the first one's copy): processed again.
    write_video(src, [np.ascontiguousarray(f[:, ::-1]) for f, _ in scene_frames(320, 180, 12)])
    detectors_check, wandering = check()
    again = anonymise_file(src, dst, AnonymiseSettings(), detectors, check_detectors=detectors_check, out_root=out,
                           accept_residual=True, overwrite=True)
    assert wandering.calls > 0 and "accepted_from_quarantine" not in again.residual
    assert again.status == "published" and again.residual["accepted"] and again.input_file["sha256"] == sha(src)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the plumbing is one UPDATE
def test_run_accept_residual_publishes_the_catalogued_quarantine(tmp_path, backend, models_ready, monkeypatch):
    """Under ``run``: the quarantined copy is catalogued; ``run --accept-residual`` moves it (same bytes, no
    detector run) and its record follows it, now anonymised; the audit log still verifies."""
    from anonymizer.config import load_config
    from anonymizer.pipelines import batch as batch_pipeline
    from anonymizer.pipelines.audit import verify as verify_archive
    from anonymizer.store.catalogue import Catalogue
    from tests.test_ingest import invoke, rows, tiny_clip
    from tests.test_run import setup_archive

    cfg_path = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    tiny_clip(tmp_path / "batch" / "door" / "a.mp4", 61, n=6, size=(320, 240),
              metadata={"creation_time": "2024-06-01T12:00:00Z"})
    real = batch_pipeline.anonymise_file
    checks: list[Wandering] = []

    def with_wandering_check(src, dst, settings, detectors, **kwargs):
        checks.append(Wandering(detectors["plate"].detector))
        check = {**detectors, "plate": LoadedDetector(checks[-1], detectors["plate"].model)}
        return real(src, dst, settings, detectors, check_detectors=check, **kwargs)

    monkeypatch.setattr(batch_pipeline, "anonymise_file", with_wandering_check)
    r = invoke("run", str(tmp_path / "batch"), "-c", cfg_path, "-j", "1")
    assert r.exit_code == 3 and "--accept-residual" in r.stderr, r.output
    (q,) = [c for c in rows(archive) if c.state == "quarantined"]
    assert sha(Path(q.uri)) == q.sha256
    r = invoke("run", str(tmp_path / "batch"), "-c", cfg_path, "-j", "1", "--accept-residual")
    assert r.exit_code == 0, r.output
    assert checks[-1].calls == 0  # published as it was: the clip was not processed again
    (copy,) = [c for c in rows(archive) if c.derived_from == q.derived_from and c.state != "deleted"]
    assert copy.id == q.id and copy.state == "anonymised" and "quarantine" not in Path(copy.uri).parts
    assert sha(Path(copy.uri)) == q.sha256 and Path(copy.report_uri).exists()
    assert not Path(q.uri).exists() and not Path(q.report_uri).exists()
    cfg = load_config(Path(cfg_path))
    with Catalogue.open(cfg.catalogue_url) as cat:
        check = verify_archive(cat)
    assert check.ok, check.problems
