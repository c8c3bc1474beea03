"""Sites and cameras as the catalogue and the rules see them (pure records)."""

from __future__ import annotations

from dataclasses import dataclass

from anonymizer.domain.recording_time import CameraClock

SITE_KINDS = ("premises", "external")
PURPOSES = ("rnd", "marketing", "security")


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    kind: str  # premises | external
    timezone: str  # IANA name
    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    address: str | None = None


@dataclass(frozen=True)
class Camera:
    id: str
    site: str
    purpose: str  # rnd | marketing | security
    audio_area: bool = False
    clock: str = "utc"  # utc | local
    clock_offset_s: float = 0.0  # seconds the camera's clock is ahead of the true time
    filename_pattern: str | None = None

    def camera_clock(self, site: Site) -> CameraClock:
        return CameraClock(self.clock, self.clock_offset_s, site.timezone)
