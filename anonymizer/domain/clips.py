"""A clip as the catalogue records it (DESIGN.md section 3): a pure record, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATES = ("raw", "anonymised", "amended", "deleted")
TIME_SOURCES = ("sidecar", "filename", "container", "mtime")
ID_LENGTH = 16  # hex digits of the content sha256


def clip_id(sha256: str) -> str:
    """A clip's id: a prefix of its content hash (short to type, stable across catalogues)."""
    return sha256[:ID_LENGTH]


@dataclass(frozen=True)
class ClipRecord:
    id: str
    uri: str  # absolute path of the file
    sha256: str
    size: int
    camera_id: str
    site_id: str
    purpose: str
    start: datetime  # aware UTC
    end: datetime | None
    time_source: str
    time_uncertain: bool
    codec: str
    width: int
    height: int
    rate: str | None  # a fraction, "30000/1001"
    frames: int
    duration_s: float | None
    has_audio: bool
    state: str = "raw"
    derived_from: str | None = None
    report_uri: str | None = None
    purge_after: datetime | None = None
    restricted: bool = False
    ingested_at: datetime | None = None
    imported_from: str | None = None  # original path of a clip imported into the archive (uri is the archive copy)
