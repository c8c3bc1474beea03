"""When a clip was recorded, from the sources DESIGN.md section 3 ranks by trust (pure: no clock, no files).

In order: a sidecar file next to the clip (an ISO 8601 time with its UTC offset), the camera's filename pattern,
the container's creation time, and last the file's modification time (marked uncertain). Filename and container
times are readings of the camera's clock: they are corrected by the camera's clock setting (``utc`` or ``local``
to the site's timezone) and its known offset (how far the camera's clock is ahead of the true time).

A local wall time that falls in a daylight-saving gap (does not exist) or overlap (exists twice) cannot name one
instant: the earlier reading is taken and the result is marked uncertain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anonymizer.errors import ConfigError, TimeSourceError

UTC = timezone.utc
SOURCES = ("sidecar", "filename", "container", "mtime")
CLOCKS = ("utc", "local")

# strftime directives a filename pattern may use, and what each matches.
_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{2})",
    "d": r"(?P<d>\d{2})",
    "H": r"(?P<H>\d{2})",
    "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})",
    "f": r"(?P<f>\d{1,6})",
}


@dataclass(frozen=True)
class CameraClock:
    """How a camera's clock relates to the true time."""

    clock: str = "utc"  # "utc" or "local" (the site's timezone, daylight saving included)
    offset_s: float = 0.0  # seconds the camera's clock is ahead of the true time (negative: behind)
    timezone: str = "UTC"  # the site's IANA timezone, used when clock is "local"


@dataclass(frozen=True)
class RecordingTime:
    start: datetime  # aware, UTC
    source: str  # one of SOURCES
    uncertain: bool = False
    note: str = ""


@dataclass(frozen=True)
class Sidecar:
    start: datetime | None  # aware, UTC
    camera: str | None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown timezone {name!r} (expected an IANA name such as Europe/Berlin)") from exc


def parse_instant(text: str, where: str = "time") -> datetime:
    """An ISO 8601 time that carries its UTC offset (or Z), as an aware UTC datetime."""
    if not isinstance(text, str):
        raise TimeSourceError(f"{where}: expected an ISO 8601 string, got {text!r}")
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimeSourceError(f"{where}: {text!r} is not an ISO 8601 time (e.g. 2024-06-01T09:30:00+02:00)") from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise TimeSourceError(f"{where}: {text!r} has no UTC offset (write e.g. {text.strip()}+02:00 or Z)")
    return value.astimezone(UTC)


def parse_sidecar(text: str) -> Sidecar:
    """A sidecar is a JSON object: ``{"start": "2024-06-01T09:30:00+02:00", "camera": "gate"}``; both optional,
    nothing else allowed."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TimeSourceError(f"sidecar is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise TimeSourceError("sidecar must be a JSON object with the keys start and camera")
    unknown = set(data) - {"start", "camera"}
    if unknown:
        raise TimeSourceError(f"sidecar has unknown keys {', '.join(sorted(unknown))} (known: start, camera)")
    camera = data.get("camera")
    if camera is not None and not isinstance(camera, str):
        raise TimeSourceError(f"sidecar camera: expected a camera id string, got {camera!r}")
    start = parse_instant(data["start"], "sidecar start") if "start" in data else None
    return Sidecar(start=start, camera=camera)


def compile_filename_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern is text with strftime directives (%Y %y %m %d %H %M %S %f, %% for a percent sign), searched for
    anywhere in the file name, e.g. ``%Y%m%d_%H%M%S``. Year, month, day, hour and minute are required."""
    out, i = [], 0
    seen = set()
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%":
            if i + 1 >= len(pattern):
                raise ConfigError(f"filename pattern {pattern!r}: ends with a lone %")
            d = pattern[i + 1]
            if d == "%":
                out.append("%")
            elif d in _DIRECTIVES:
                if d in seen:
                    raise ConfigError(f"filename pattern {pattern!r}: %{d} appears twice")
                seen.add(d)
                out.append(_DIRECTIVES[d])
            else:
                raise ConfigError(
                    f"filename pattern {pattern!r}: %{d} is not supported (use %Y %y %m %d %H %M %S %f)"
                )
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    missing = [d for d in ("m", "d", "H", "M") if d not in seen]
    if not ({"Y", "y"} & seen):
        missing.insert(0, "Y")
    if missing:
        raise ConfigError(f"filename pattern {pattern!r}: needs {' '.join('%' + d for d in missing)}")
    return re.compile("".join(out))


def parse_filename_time(name: str, pattern: str) -> datetime | None:
    """The camera-clock wall time (naive) a file name holds, or None when the pattern does not match."""
    match = compile_filename_pattern(pattern).search(name)
    if match is None:
        return None
    g = match.groupdict()
    year = int(g["Y"]) if g.get("Y") else 2000 + int(g["y"])
    micro = int((g.get("f") or "0").ljust(6, "0"))
    try:
        return datetime(year, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), int(g.get("S") or 0), micro)
    except ValueError as exc:
        raise TimeSourceError(f"file name {name!r}: {match.group(0)!r} is not a valid date and time ({exc})") from exc


def parse_container_time(text: str) -> datetime | None:
    """The container's creation time as a camera-clock wall time (naive). Muxers label it UTC, but a camera
    whose clock is set to local time writes its local reading, so the label is ignored and the camera's clock
    setting decides. None for an empty or unparseable value (the next source is tried)."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC) if value.utcoffset() else value
        value = value.replace(tzinfo=None)
    if value.year < 1980:  # 1904/1970 epochs: the field was never set
        return None
    return value


def local_to_utc(wall: datetime, tz: str) -> tuple[datetime, bool]:
    """A local wall time as UTC; True when it is ambiguous or does not exist there (the earlier reading is used)."""
    zi = zone(tz)
    first = wall.replace(tzinfo=zi, fold=0)
    second = wall.replace(tzinfo=zi, fold=1)
    ambiguous = first.utcoffset() != second.utcoffset()
    # In a gap fold=0 uses the offset before the change; in an overlap it is the first (earlier) occurrence.
    utc = first.astimezone(UTC)
    if ambiguous:
        utc = min(utc, second.astimezone(UTC))
    return utc, ambiguous


def camera_to_utc(wall: datetime, clock: CameraClock) -> tuple[datetime, bool]:
    """A camera-clock wall reading as the true UTC instant; True when the reading was ambiguous."""
    if wall.tzinfo is not None:
        raise ValueError("camera readings are naive wall times")
    if clock.clock == "utc":
        instant, uncertain = wall.replace(tzinfo=UTC), False
    elif clock.clock == "local":
        instant, uncertain = local_to_utc(wall, clock.timezone)
    else:
        raise ValueError(f"unknown clock {clock.clock!r}")
    return instant - timedelta(seconds=clock.offset_s), uncertain


def recording_start(
    clock: CameraClock,
    sidecar: Sidecar | None = None,
    filename_wall: datetime | None = None,
    container_wall: datetime | None = None,
    mtime: datetime | None = None,
    duration_s: float | None = None,
) -> RecordingTime:
    """Pick the most trusted source available. ``mtime`` (aware) is taken as the end of the recording."""
    if sidecar is not None and sidecar.start is not None:
        return RecordingTime(sidecar.start.astimezone(UTC), "sidecar")
    for source, wall in (("filename", filename_wall), ("container", container_wall)):
        if wall is not None:
            start, ambiguous = camera_to_utc(wall, clock)
            note = f"local time {wall.isoformat()} is ambiguous or skipped in {clock.timezone}" if ambiguous else ""
            return RecordingTime(start, source, uncertain=ambiguous, note=note)
    if mtime is None:
        raise TimeSourceError("no recording time: no sidecar, filename time, container time or modification time")
    start = mtime.astimezone(UTC) - timedelta(seconds=duration_s or 0.0)
    return RecordingTime(start, "mtime", uncertain=True, note="file modification time minus duration")


def check_not_future(start: datetime, now: datetime, tolerance: timedelta = timedelta(minutes=5)) -> None:
    if start > now + tolerance:
        raise TimeSourceError(f"recording time {start.isoformat()} is in the future (now {now.isoformat()})")
