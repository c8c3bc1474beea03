"""Builders for purge tests: an archive with a catalogue, sites, cameras and clip files made in the test."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from anonymizer.domain.clips import ClipRecord
from anonymizer.domain.retention import Policy, purge_after
from anonymizer.domain.sites import Camera, Site
from anonymizer.store.catalogue import Catalogue

UTC = timezone.utc
SITES = [Site("hq", "HQ", "premises", "Europe/Berlin"), Site("road", "Road", "external", "UTC")]
CAMERAS = [Camera("gate", "hq", "security"), Camera("lab", "hq", "rnd"), Camera("street", "road", "marketing")]
KIND = {s.id: s for s in SITES}
CAM = {c.id: c for c in CAMERAS}

CONFIG = """
archive = "."
[sites.hq]
name = "HQ"
kind = "premises"
timezone = "Europe/Berlin"
[sites.road]
name = "Road"
kind = "external"
timezone = "UTC"
[cameras.gate]
site = "hq"
purpose = "security"
[cameras.lab]
site = "hq"
purpose = "rnd"
[cameras.street]
site = "road"
purpose = "marketing"
"""


def open_archive(root: Path, url: str | None = None) -> Catalogue:
    """An archive at ``root`` whose configuration names the catalogue ``url`` (default ROOT/catalogue.sqlite)."""
    root.mkdir(parents=True, exist_ok=True)
    line = f'catalogue = "{url}"\n' if url else ""
    (root / "anonymizer.toml").write_text(line + CONFIG.lstrip())
    cat = Catalogue.open(url or f"sqlite:///{root / 'catalogue.sqlite'}", create=True)
    with cat.transaction() as conn:
        cat.sync(conn, SITES, CAMERAS)
    return cat


def add_clip(cat: Catalogue, root: Path, n: int, camera: str, start: datetime, state: str = "raw",
             policy: Policy | None = None, write: bool = True, path: Path | None = None,
             derived_from: str | None = None) -> ClipRecord:
    cam = CAM[camera]
    site = KIND[cam.site]
    sha = hashlib.sha256(f"clip{n}".encode()).hexdigest()
    path = path or root / "raw" / camera / f"{n:05d}.mp4"
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"clip {n}".encode())
    rec = ClipRecord(
        id=sha[:16], uri=str(path), sha256=sha, size=10, camera_id=camera, site_id=site.id, purpose=cam.purpose,
        start=start, end=start + timedelta(minutes=10), time_source="sidecar", time_uncertain=False, codec="h264",
        width=64, height=48, rate="25", frames=15000, duration_s=600.0, has_audio=False, state=state,
        derived_from=derived_from,
        purge_after=purge_after(start, site.kind, site.timezone, cam.purpose, state == "anonymised", policy,
                                site.id, camera),
        ingested_at=start,
    )
    with cat.transaction() as conn:
        cat.add_clip(conn, rec)
    return rec
