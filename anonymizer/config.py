"""The configuration file (TOML): archive root, catalogue URL, sites, cameras, policy and anonymise settings.

Every key, its default and its bounds are defined once in the tables below (the anonymise settings in
``anonymizer.settings``); the starter file, ``config check`` and the README are checked against them by the tests.
Unknown keys and bad values are errors that name the key and what was expected; all of them are reported at once.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anonymizer.domain.recording_time import CLOCKS, compile_filename_pattern, zone
from anonymizer.domain.retention import Policy
from anonymizer.domain.sites import PURPOSES, SITE_KINDS, Camera, Site
from anonymizer.errors import ConfigError
from anonymizer.settings import BY_NAME as ANONYMISE_SETTINGS
from anonymizer.settings import AnonymiseSettings

CONFIG_NAME = "anonymizer.toml"
CATALOGUE_NAME = "catalogue.sqlite"


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default (``REQUIRED`` when it must be given), bounds and meaning."""

    name: str
    type: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None


REQUIRED = object()

TOP_KEYS = (
    Key("archive", str, ".", "archive root: outputs under ARCHIVE/anonymised, the SQLite catalogue; relative to this file"),
    Key("catalogue", str, "", "SQLAlchemy URL of the catalogue; empty: sqlite:///ARCHIVE/catalogue.sqlite"),
    Key("artefact_days", int, 30, "days a closed request's review pages, exports and reports are kept, then purged",
        low=0, high=3650),
    Key("warn_days", int, 14, "purge and stats list raw clips due within this many days that have no anonymised "
        "copy", low=0, high=3650),
    Key("mtime_time", str, "warn", "clips whose only recording time is the file's modification time (never allowed "
        "for security cameras): warn (registered as uncertain, loudly) or refuse", choices=("warn", "refuse")),
    Key("scheduler", str, "", "Dask scheduler address for run, e.g. tcp://HOST:8786; empty: local worker processes"),
)
TABLES = ("anonymise", "policy", "sites", "cameras")
SITE_KEYS = (
    Key("name", str, REQUIRED, "human name of the site"),
    Key("kind", str, REQUIRED, "premises (the company's own) or external (public areas)", choices=SITE_KINDS),
    Key("timezone", str, REQUIRED, "IANA timezone of the site, e.g. Europe/Berlin (local calendar for deadlines)"),
    Key("location", dict, None, "{ lat = ..., lon = ..., radius_m = ... } (degrees, metres); optional"),
    Key("address", str, None, "postal address; optional"),
)
LOCATION_KEYS = (
    Key("lat", (int, float), REQUIRED, "latitude in degrees", low=-90, high=90),
    Key("lon", (int, float), REQUIRED, "longitude in degrees", low=-180, high=180),
    Key("radius_m", (int, float), 100.0, "radius of the area in metres", low=0, high=100_000),
)
CAMERA_KEYS = (
    Key("site", str, REQUIRED, "id of the site the camera is at"),
    Key("purpose", str, REQUIRED, "rnd, marketing or security (decides retention)", choices=PURPOSES),
    Key("audio_area", bool, False, "the camera is in a marked audio area (audio may be kept)"),
    Key("clock", str, "utc", "what the camera's clock is set to: utc, or local (the site's timezone)", choices=CLOCKS),
    Key("clock_offset_s", (int, float), 0.0, "seconds the camera's clock is ahead of the true time (negative: behind)",
        low=-86_400, high=86_400),
    Key("filename_pattern", str, None, "recording time in file names, strftime directives %Y %y %m %d %H %M %S %f"),
)


#: The [policy] table is read by the retention Policy (anonymizer.domain.retention.Policy.from_mapping).
POLICY_KEYS = (
    Key("purpose", dict, {}, "retention per purpose, every site kind: rnd, marketing, security = \"N days|weeks|months|years\""),
    Key("site_kind", dict, {}, "retention per site kind and purpose: [policy.site_kind.premises] rnd = \"6 months\""),
    Key("site", dict, {}, "retention per site id, every camera and purpose: [policy.site] hq = \"1 year\""),
    Key("camera", dict, {}, "retention per camera id: [policy.camera] gate = \"2 weeks\""),
)


@dataclass(frozen=True)
class Config:
    path: Path | None
    archive: Path
    catalogue_url: str
    sites: dict[str, Site] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)
    anonymise: AnonymiseSettings = field(default_factory=AnonymiseSettings)
    policy: Policy = field(default_factory=Policy)
    artefact_days: int = 30
    warn_days: int = 14
    mtime_time: str = "warn"
    scheduler: str = ""  # a Dask scheduler's address; empty: local worker processes

    @property
    def anonymised_root(self) -> Path:
        return self.archive / "anonymised"

    @property
    def raw_root(self) -> Path:
        """Where ingest imports clips from batches outside the archive root: raw/<site>/<camera>/<YYYY>/<MM>/."""
        return self.archive / "raw"


#: Folders that are never an archive root, nor hold one (the purge deletes inside the root).
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr")
#: Folders that may hold an archive root but are not one themselves.
SHARED_DIRS = ("/", "/home", "/root", "/run", "/srv", "/tmp", "/var", "/var/lib", "/mnt", "/media", "/opt")
SIMPLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CATALOGUE_BACKENDS = ("sqlite", "postgresql")


def archive_problems(archive: Path) -> list[str]:
    """Why ``archive`` (resolved) cannot be an archive root: the purge deletes files under it."""
    text = str(archive)
    if text in SHARED_DIRS:
        return [f"{text} is a shared system folder: give a folder of its own (e.g. /srv/footage)"]
    if any(text == d or text.startswith(d + "/") for d in SYSTEM_DIRS):
        return [f"{text} is in a system folder: give a folder of its own (e.g. /srv/footage)"]
    return []


def url_problems(url: str) -> list[str]:
    if "://" not in url:
        return [f"{url!r} is not a database URL (sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"]
    backend = url.split("://", 1)[0].split("+", 1)[0].lower()
    if backend not in CATALOGUE_BACKENDS:
        return [f"{backend}:// is not supported: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"]
    return []


def default_catalogue_url(archive: Path) -> str:
    return f"sqlite:///{archive / CATALOGUE_NAME}"


class _Problems:
    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.where}: {key}: {message}")


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "true or false", dict: "a table", int: "a number", float: "a number"}
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(dict.fromkeys(names.get(x, x.__name__) for x in ts))


def _table(data: Any, keys: tuple[Key, ...], prefix: str, problems: _Problems) -> dict[str, Any]:
    """Check one table against its keys; returns the values with defaults filled in (bad ones left out)."""
    if not isinstance(data, dict):
        problems.add(prefix, f"expected a table, got {data!r}")
        return {}
    known = {k.name: k for k in keys}
    for name in data:
        if name not in known:
            problems.add(f"{prefix}.{name}", f"unknown key (known: {', '.join(known)})")
    out: dict[str, Any] = {}
    for key in keys:
        full = f"{prefix}.{key.name}" if prefix else key.name
        if key.name not in data:
            if key.default is REQUIRED:
                problems.add(full, f"missing; expected {_type_name(key.type)}: {key.help}")
            else:
                out[key.name] = key.default
            continue
        value = data[key.name]
        types = key.type if isinstance(key.type, tuple) else (key.type,)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            problems.add(full, f"expected {_type_name(key.type)}, got {value!r}")
            continue
        if key.choices is not None and value not in key.choices:
            problems.add(full, f"expected one of {', '.join(key.choices)}, got {value!r}")
            continue
        if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
            problems.add(full, f"{value} is outside [{key.low}, {key.high}]")
            continue
        out[key.name] = value
    return out


def parse_config(data: dict[str, Any], base: Path, path: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative paths are taken from ``base`` (the file's folder)."""
    problems = _Problems(str(path) if path else "configuration")
    top = _table({k: v for k, v in data.items() if k not in TABLES}, TOP_KEYS, "", problems)
    archive = (base / top.get("archive", ".")).resolve()
    url = top.get("catalogue") or default_catalogue_url(archive)
    for problem in archive_problems(archive):
        problems.add("archive", problem)
    for problem in url_problems(url):
        problems.add("catalogue", problem)
    for table in ("sites", "cameras"):
        ids = data.get(table, {})
        for ident in (ids if isinstance(ids, dict) else {}):
            if not SIMPLE_ID.fullmatch(str(ident)):
                problems.add(f"{table}.{ident}", "an id must be a simple name (letters, digits, '_', '-', '.'; "
                             "at most 64, starting with a letter or digit): it names folders of the archive")

    anonymise = AnonymiseSettings()
    raw = data.get("anonymise", {})
    if not isinstance(raw, dict):
        problems.add("anonymise", "expected a table")
    else:
        values = {}
        for name, value in raw.items():
            if name not in ANONYMISE_SETTINGS:
                problems.add(f"anonymise.{name}", f"unknown key (known: {', '.join(ANONYMISE_SETTINGS)})")
                continue
            try:
                values[name] = ANONYMISE_SETTINGS[name].check(value)
            except ConfigError as exc:
                problems.add(f"anonymise.{name}", str(exc).split(": ", 1)[-1])
        anonymise = AnonymiseSettings(**values)

    policy = _policy(data.get("policy", {}), problems)

    sites: dict[str, Site] = {}
    raw_sites = data.get("sites", {})
    if not isinstance(raw_sites, dict):
        problems.add("sites", "expected tables [sites.ID]")
        raw_sites = {}
    for sid, raw_site in raw_sites.items():
        prefix = f"sites.{sid}"
        v = _table(raw_site, SITE_KEYS, prefix, problems)
        if "timezone" in v:
            try:
                zone(v["timezone"])
            except ConfigError as exc:
                problems.add(f"{prefix}.timezone", str(exc))
        loc = None
        if v.get("location") is not None:
            loc = _table(v["location"], LOCATION_KEYS, f"{prefix}.location", problems)
        if len(v) == len(SITE_KEYS):
            sites[sid] = Site(
                id=sid, name=v["name"], kind=v["kind"], timezone=v["timezone"],
                lat=float(loc["lat"]) if loc and "lat" in loc else None,
                lon=float(loc["lon"]) if loc and "lon" in loc else None,
                radius_m=float(loc["radius_m"]) if loc and "radius_m" in loc else None,
                address=v.get("address"),
            )

    cameras: dict[str, Camera] = {}
    raw_cameras = data.get("cameras", {})
    if not isinstance(raw_cameras, dict):
        problems.add("cameras", "expected tables [cameras.ID]")
        raw_cameras = {}
    for cid, raw_cam in raw_cameras.items():
        prefix = f"cameras.{cid}"
        v = _table(raw_cam, CAMERA_KEYS, prefix, problems)
        if "site" in v and v["site"] not in raw_sites:
            problems.add(f"{prefix}.site", f"unknown site {v['site']!r} (sites: {', '.join(raw_sites) or 'none'})")
        if v.get("filename_pattern"):
            try:
                compile_filename_pattern(v["filename_pattern"])
            except ConfigError as exc:
                problems.add(f"{prefix}.filename_pattern", str(exc))
        if len(v) == len(CAMERA_KEYS) and not problems.items:
            cameras[cid] = Camera(
                id=cid, site=v["site"], purpose=v["purpose"], audio_area=v["audio_area"], clock=v["clock"],
                clock_offset_s=float(v["clock_offset_s"]), filename_pattern=v.get("filename_pattern") or None,
            )

    # A retention rule for a site or camera that does not exist is a typo: the clips it meant get the default.
    raw_policy = data.get("policy", {})
    for table, known in (("site", raw_sites), ("camera", raw_cameras)):
        named = raw_policy.get(table, {}) if isinstance(raw_policy, dict) else {}
        for ident in (named if isinstance(named, dict) else {}):
            if ident not in known:
                problems.add(f"policy.{table}.{ident}", f"unknown {table} (configured: "
                             f"{', '.join(known) or 'none'}); a rule must name a [{table}s.ID] of this file")

    if problems.items:
        raise ConfigError(problems=problems.items)
    return Config(path=path, archive=archive, catalogue_url=url, sites=sites, cameras=cameras,
                  anonymise=anonymise, policy=policy, artefact_days=top.get("artefact_days", 30),
                  warn_days=top.get("warn_days", 14), mtime_time=top.get("mtime_time", "warn"),
                  scheduler=top.get("scheduler") or "")


def _policy(raw: Any, problems: _Problems) -> Policy:
    """The [policy] table; when it is invalid, every bad entry is named (each checked on its own), not only the
    first one ``Policy.from_mapping`` meets."""
    try:
        return Policy.from_mapping(raw, "policy")
    except ConfigError as exc:
        first = str(exc)
    parts: list[dict[str, Any]] = []
    for section, sub in (raw.items() if isinstance(raw, dict) else ()):
        if section == "site_kind" and isinstance(sub, dict):
            for kind, inner in sub.items():
                entries = inner.items() if isinstance(inner, dict) else [(None, inner)]
                parts += [{section: {kind: inner if p is None else {p: d}}} for p, d in entries]
        elif section in ("purpose", "site", "camera") and isinstance(sub, dict):
            parts += [{section: {k: v}} for k, v in sub.items()]
        else:
            parts.append({section: sub})
    found = []
    for part in parts:
        try:
            Policy.from_mapping(part, "policy")
        except ConfigError as exc:
            found.append(str(exc))
    for message in dict.fromkeys(found or [first]):
        problems.items.append(f"{problems.where}: {message}")
    return Policy()


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no configuration file (create one with 'anonymizer init ARCHIVE', or pass --config)"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return parse_config(data, path.resolve().parent, path)


def _comment_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def starter_config() -> str:
    """A commented configuration for ``anonymizer init``: every key, with its default."""
    lines = [
        "# footage-anonymizer configuration. Unknown keys are errors; check with: anonymizer config check",
        "",
    ]
    for key in TOP_KEYS:
        lines.append(f"# {key.help}")
        lines.append(f"{key.name} = {_comment_default(key.default)}")
    lines += ["", "# Retention overrides (none: the privacy notice as written: security 3 days; R&D and marketing",
              "# 6 calendar months on the premises, 2 at external sites). The first that applies wins:"]
    for key in reversed(POLICY_KEYS):
        lines.append(f"# [policy.{key.name}]   {key.help}")
    lines += ["", "# Detector and output settings (the same defaults as the anonymise options).", "[anonymise]"]
    for s in ANONYMISE_SETTINGS.values():
        lines.append(f"# {s.name} = {_comment_default(s.default)}    # {s.help}")
    lines += [
        "",
        "# Sites: one table per site, [sites.ID].",
        "[sites.hq]",
        'name = "Headquarters"        # ' + SITE_KEYS[0].help,
        'kind = "premises"            # ' + SITE_KEYS[1].help,
        'timezone = "Europe/Berlin"   # ' + SITE_KEYS[2].help,
        "# location = { lat = 52.52, lon = 13.405, radius_m = 150 }   # " + SITE_KEYS[3].help,
        '# address = "Example Street 1, Berlin"                     # ' + SITE_KEYS[4].help,
        "",
        "# Cameras: one table per camera, [cameras.ID]. Clips are matched to a camera by --camera, by the",
        "# sidecar's camera key, or by a folder of the batch named after the camera.",
        "[cameras.lab1]",
        'site = "hq"                  # ' + CAMERA_KEYS[0].help,
        'purpose = "rnd"              # ' + CAMERA_KEYS[1].help,
        "audio_area = false           # " + CAMERA_KEYS[2].help,
        'clock = "utc"                # ' + CAMERA_KEYS[3].help,
        "clock_offset_s = 0           # " + CAMERA_KEYS[4].help,
        '# filename_pattern = "%Y%m%d_%H%M%S"   # ' + CAMERA_KEYS[5].help,
        "",
    ]
    return "\n".join(lines)


def all_key_names() -> list[str]:
    """Every key a configuration file may hold, dotted (for the documentation test)."""
    names = [k.name for k in TOP_KEYS]
    names += [f"policy.{k.name}" for k in POLICY_KEYS]
    names += [f"anonymise.{n}" for n in ANONYMISE_SETTINGS]
    names += [f"sites.ID.{k.name}" for k in SITE_KEYS]
    names += [f"sites.ID.location.{k.name}" for k in LOCATION_KEYS]
    names += [f"cameras.ID.{k.name}" for k in CAMERA_KEYS]
    return names
