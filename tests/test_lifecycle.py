"""Every file that shows a recording is in the catalogue with an owner and a deadline (issue 9): quarantined
copies, request artefacts (review pages, exports, reports), copies' reports; and after a full lifecycle the
archive holds no file the catalogue does not know."""

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from anonymizer.config import load_config
from anonymizer.pipelines import run as run_pipeline
from anonymizer.pipelines.anonymise import ClipReport, quarantine_path_for, report_path_for
from anonymizer.pipelines.audit import verify as verify_archive
from anonymizer.pipelines.batch import Outcome
from anonymizer.pipelines.purge import purge
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store.catalogue import Catalogue
from tests.test_ingest import invoke, rows, tiny_clip
from tests.test_requests_e2e import cli_json
from tests.test_run import setup_archive

UTC = timezone.utc
FAR = datetime(2099, 1, 1, tzinfo=UTC)
#: Files of the archive itself, not of a recording.
HOUSEKEEPING = {"anonymizer.toml", "catalogue.sqlite", "catalogue.sqlite-wal", "catalogue.sqlite-shm", ".run.lock",
                ".purge.lock", ".ingest.lock"}


def ungoverned(archive: Path, cat: Catalogue) -> list[str]:
    """Files under the archive that the catalogue does not know, or that show a recording with no deadline
    (anonymised copies have none by policy: they show no one)."""
    known: dict[str, str] = {}
    for c in rows(archive):
        if c.state == "deleted":
            continue
        ok = c.state == "anonymised" or c.purge_after is not None
        known[c.uri] = "ok" if ok else f"clip {c.id} ({c.state}) without a deadline"
        if c.report_uri:
            known[c.report_uri] = known[c.uri]
        if os.path.exists(c.uri + ".json"):
            known[c.uri + ".json"] = known[c.uri]  # the sidecar copied beside an imported clip
    with cat.engine.connect() as conn:
        for a in artefact_rows.live(conn):
            known[a.path] = "ok" if a.purge_after is not None else f"{a.kind} of {a.request_id} without a deadline"
    bad = []
    for p in archive.rglob("*"):
        if p.is_dir() or p.name in HOUSEKEEPING:
            continue
        owner = known.get(str(p)) or next((v for k, v in known.items() if str(p).startswith(k + os.sep)), None)
        if owner is None:
            bad.append(f"{p}: unknown to the catalogue")
        elif owner != "ok":
            bad.append(f"{p}: {owner}")
    return bad


def fake_anonymise(leaky: set[str]):
    """Writes a copy of each clip (plumbing only: the privacy claim is tested with the real models elsewhere),
    reporting possible leaks for the clips named in ``leaky``."""
    def run(tasks, settings, overwrite=False, workers=0, executor=None, on_done=None, clip_progress=None,
            claim=None, slots=0):
        for task in tasks:
            if claim is not None and not claim(task):  # run leases each clip just before its turn
                continue
            bad = task.src.name in leaky  # the anonymiser's contract: such an output goes to quarantine/
            out = quarantine_path_for(task.dst, task.out_root) if bad else task.dst
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(task.src, out)
            with open(out, "ab") as fh:
                fh.write(b"\0")  # a copy is never the same file as its source
            leaks = [{"frame": 0, "kind": "face"}] if bad else []
            report = ClipReport(input=str(task.src), output=str(out), width=320, height=240, frames=4,
                                residual={"possible_leaks": leaks}, quarantined=bad,
                                status="quarantined" if bad else "published",
                                quarantine_reason="a face found again after the second pass" if bad else "")
            report_path_for(out).write_text(report.to_json())
            on_done(Outcome(task, report=report))
    return run


def test_a_quarantined_copy_is_catalogued_found_and_purged_with_its_raw_clip(tmp_path, backend, monkeypatch):
    cfg_path = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 41, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "door" / "b.mp4", 42, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:10:00Z"})
    monkeypatch.setattr(run_pipeline, "anonymise_batch", fake_anonymise({"a.mp4"}))
    r = invoke("run", str(batch), "-c", cfg_path, "--json")
    assert r.exit_code == 3, r.output
    assert "quarantined" in r.stderr
    clips = rows(archive)
    raw_a = next(c for c in clips if c.imported_from and c.imported_from.endswith("a.mp4"))
    (q,) = [c for c in clips if c.state == "quarantined"]
    assert q.derived_from == raw_a.id and q.purge_after == raw_a.purge_after and Path(q.uri).exists()
    assert "quarantine" in Path(q.uri).relative_to(archive).parts
    assert Path(q.report_uri).exists()
    assert ungoverned(archive, Catalogue.open(load_config(Path(cfg_path)).catalogue_url)) == []

    req = cli_json("requests", "new", "-c", cfg_path, "--kind", "erasure", "--received", "2024-06-05",
                   "--from", "2024-06-01T12:00:01Z", "--to", "2024-06-01T12:00:02Z", "--place", "door")
    found = cli_json("requests", "find", req["id"], "-c", cfg_path)
    assert q.id in {s["clip_id"] for s in found["segments"]}  # the DPO sees the quarantined copy too

    cfg = load_config(Path(cfg_path))
    with Catalogue.open(cfg.catalogue_url) as cat:
        report = purge(cat, cfg.policy, raw_a.purge_after + timedelta(seconds=1), cfg.archive)
        check = verify_archive(cat)
    assert check.ok, check.problems
    done = {o.clip_id: o.outcome for o in report.outcomes}
    assert done[q.id] == "deleted" and done[raw_a.id] == "deleted"
    assert not Path(q.uri).exists() and not Path(q.report_uri).exists()  # a deleted copy's report goes with it


@pytest.mark.slow
def test_full_lifecycle_leaves_no_file_outside_the_catalogue(tmp_path, backend, models_ready):
    cfg_path = setup_archive(tmp_path, backend=backend)
    archive = tmp_path / "archive"
    batch = tmp_path / "batch"
    tiny_clip(batch / "door" / "a.mp4", 51, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:00:00Z"})
    tiny_clip(batch / "door" / "b.mp4", 52, n=4, size=(320, 240), metadata={"creation_time": "2024-06-01T12:10:00Z"})
    r = invoke("run", str(batch), "-c", cfg_path, "-j", "1", "--face-stride", "1", "--plate-stride", "1")
    assert r.exit_code == 0, r.output
    cfg = load_config(Path(cfg_path))
    cat = Catalogue.open(cfg.catalogue_url)
    assert ungoverned(archive, cat) == []

    # an access request: review page, export inside the archive, report; then an erasure of the same person
    access = cli_json("requests", "new", "-c", cfg_path, "--kind", "access", "--received", "2024-06-05",
                      "--from", "2024-06-01T12:00:01Z", "--to", "2024-06-01T12:00:02Z", "--place", "door")
    found = cli_json("requests", "find", access["id"], "-c", cfg_path)
    raw_seg = next(s for s in found["segments"] if s["clip"]["state"] == "raw")
    cli_json("requests", "review", access["id"], "-c", cfg_path)
    export = archive / "exports" / f"{access['id']}.zip"
    cli_json("requests", "export", access["id"], "-c", cfg_path, "--out", str(export), "--segments", raw_seg["id"])
    cli_json("requests", "report", access["id"], "-c", cfg_path)
    assert export.exists()
    # open request: its artefacts have no deadline yet
    with cat.engine.connect() as conn:
        assert {a.kind for a in artefact_rows.live(conn)} == {"review", "export", "report"}
    erasure = cli_json("requests", "new", "-c", cfg_path, "--kind", "erasure", "--received", "2024-06-05",
                       "--from", "2024-06-01T12:00:01Z", "--to", "2024-06-01T12:00:02Z", "--place", "door")
    found = cli_json("requests", "find", erasure["id"], "-c", cfg_path)
    assert {a["kind"] for a in found["artefacts"]} == {"review", "export"}  # what shows the person elsewhere
    raw_seg = next(s for s in found["segments"] if s["clip"]["state"] == "raw")
    cli_json("requests", "review", erasure["id"], "-c", cfg_path)
    done = cli_json("requests", "apply", erasure["id"], "-c", cfg_path, "--segments", raw_seg["id"])
    assert not done["failed"], done
    # the batch original stays outside the archive: the erasure says so (--include-originals would delete it)
    assert done["segments"][0]["outcome"]["originals_outside"] == [str((batch / "door" / "a.mp4").resolve())]
    cli_json("requests", "report", erasure["id"], "-c", cfg_path)
    for rid in (access["id"], erasure["id"]):
        cli_json("requests", "close", rid, "-c", cfg_path)
    assert ungoverned(archive, cat) == []  # closed: every artefact has its deadline

    report = purge(cat, cfg.policy, FAR, cfg.archive)
    assert not report.failures, report.failures
    assert {a["kind"] for a in report.artefacts} == {"review", "export", "report"}
    assert all(a["outcome"] == "deleted" for a in report.artefacts)
    assert ungoverned(archive, cat) == []
    left = [p for p in archive.rglob("*") if p.is_file() and p.name not in HOUSEKEEPING]
    states = {c.uri: c.state for c in rows(archive)}
    assert left and all(states.get(str(p)) == "anonymised" or str(p).endswith(".report.json") for p in left), left
    check = verify_archive(cat)  # the chain, and the catalogue against it
    assert check.ok, check.problems
    cat.close()
