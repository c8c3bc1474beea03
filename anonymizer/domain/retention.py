"""Retention: how long raw footage is kept, and which clips a purge deletes (DESIGN.md sections 1 and 5).

Pure: no clock, no file. ``now`` is an argument, and whether a clip's file lies inside the archive root is a field
the caller fills in.

The rules
---------
The notice's defaults (``DEFAULT_RULES``): security footage 3 days after recording; R&D and marketing footage,
not anonymised, 6 calendar months when recorded on the premises and 2 calendar months at an external site;
anonymised footage has no limit.

Overrides (``Policy``) are durations in days, weeks, months or years. For one clip the first that applies wins:

1. camera id (``[policy.camera]``)
2. site id (``[policy.site]``)
3. site kind and purpose (``[policy.site_kind.<kind>]``)
4. purpose (``[policy.purpose]``)
5. the notice's default for the site kind and purpose

Anonymised footage is never subject to a limit, whatever the overrides say.

Time arithmetic
---------------
A duration is added in the site's local calendar: the same wall-clock time N days, weeks, months or years later;
months and years clamp the day to the month's end (31 Aug + 6 months = 28/29 Feb; 29 Feb + 1 year = 28 Feb).
The deadline is the *first instant* at which the site's clock reads that wall time: when the wall time falls in a
DST gap, the instant the clock jumps past it; when it occurs twice (clocks going back), its first occurrence. So
a deadline is never later than the notice allows. Deadlines are returned as aware UTC datetimes; SQL never does
month arithmetic.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from anonymizer.domain.holds import HoldIndex, HoldInfo
from anonymizer.errors import ConfigError

UTC = timezone.utc
PURPOSES = ("rnd", "marketing", "security")
SITE_KINDS = ("premises", "external")
UNITS = ("days", "weeks", "months", "years")
#: Largest amount per unit: 100 years whatever the unit (operators keep footage up to 10 years).
UNIT_MAX = {"days": 36525, "weeks": 5218, "months": 1200, "years": 100}


# --------------------------------------------------------------------------------------------------- durations

@dataclass(frozen=True, order=True)
class Duration:
    """A retention period: ``amount`` whole ``unit`` (days, weeks, months or years) in the local calendar."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise ConfigError(f"amount must be a whole number, got {self.amount!r}")
        if not 1 <= self.amount <= UNIT_MAX[self.unit]:
            raise ConfigError(f"{self.amount} {self.unit}: must be between 1 and {UNIT_MAX[self.unit]}")

    _PATTERN = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)

    @classmethod
    def parse(cls, text: str) -> "Duration":
        """``"3 days"``, ``"1 week"``, ``"6 months"``, ``"10 years"`` (singular or plural)."""
        if isinstance(text, Duration):
            return text
        m = cls._PATTERN.match(text) if isinstance(text, str) else None
        if not m:
            raise ConfigError(f"expected a duration such as '3 days', '2 weeks', '6 months' or '1 year', got {text!r}")
        return cls(int(m.group(1)), m.group(2).lower() + "s")

    def add_to(self, local: datetime) -> datetime:
        """Add to a wall-clock time (tzinfo, if any, is kept and ignored: no UTC conversion happens here)."""
        if self.unit == "days":
            return local + timedelta(days=self.amount)
        if self.unit == "weeks":
            return local + timedelta(weeks=self.amount)
        if self.unit == "months":
            return add_calendar_months(local, self.amount)
        return add_calendar_months(local, 12 * self.amount)

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        calendar_word = "calendar " if self.unit == "months" else ""
        return f"{self.amount} {calendar_word}{unit}"

    def text(self) -> str:
        """The form the configuration file takes back (``Duration.parse(d.text()) == d``)."""
        return f"{self.amount} {self.unit}"


def add_calendar_months(local_dt: datetime, n: int) -> datetime:
    """Same wall-clock time ``n`` calendar months later (``n`` may be negative), the day clamped to the end of the
    month: 31 Aug + 6 months = 28 Feb (29 in a leap year). tzinfo is carried over unchanged, fold reset to 0."""
    index = local_dt.year * 12 + (local_dt.month - 1) + n
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(local_dt.day, calendar.monthrange(year, month)[1])
    return local_dt.replace(year=year, month=month, day=day, fold=0)


#: Kept for the first (minimal) version's callers.
add_months = add_calendar_months


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The site's time zone (IANA name); an unknown name is a configuration error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r}") from exc


def first_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (aware UTC) at which a clock in ``tz`` reads ``wall`` or later.

    An ordinary wall time has one instant. One that occurs twice (clocks going back) gives its first
    occurrence; one that never occurs (clocks jumping forward over it) gives the instant of the jump.
    """
    wall = wall.replace(tzinfo=None)
    a = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if a == b:
        return a
    lo, hi = (a, b) if a < b else (b, a)
    if lo.astimezone(tz).replace(tzinfo=None) == wall:
        return lo  # ambiguous: the earlier occurrence
    # A gap: the clock reads less than ``wall`` at ``lo`` and more at ``hi``. Transitions fall on whole seconds,
    # so search whole seconds for the first one whose wall time is not earlier than ``wall``.
    base = lo.replace(microsecond=0)
    low, high = 0, int((hi - base).total_seconds()) + 1
    while low < high:
        mid = (low + high) // 2
        if (base + timedelta(seconds=mid)).astimezone(tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid + 1
    return base + timedelta(seconds=low)


# ------------------------------------------------------------------------------------------------------ policy

class DefaultRule(NamedTuple):
    duration: Duration
    why: str


#: The privacy notice's table (DESIGN.md section 1), keyed by (site kind, purpose).
DEFAULT_RULES: dict[tuple[str, str], DefaultRule] = {
    ("premises", "security"): DefaultRule(Duration(3, "days"), "security footage: kept at most 3 days after recording"),
    ("external", "security"): DefaultRule(Duration(3, "days"), "security footage: kept at most 3 days after recording"),
    ("premises", "rnd"): DefaultRule(Duration(6, "months"), "R&D footage recorded on the premises, not anonymised: "
                                     "kept at most 6 calendar months after recording"),
    ("premises", "marketing"): DefaultRule(Duration(6, "months"), "marketing footage recorded on the premises, not "
                                           "anonymised: kept at most 6 calendar months after recording"),
    ("external", "rnd"): DefaultRule(Duration(2, "months"), "R&D footage recorded at an external site, not "
                                     "anonymised: kept at most 2 calendar months after recording"),
    ("external", "marketing"): DefaultRule(Duration(2, "months"), "marketing footage recorded at an external site, "
                                           "not anonymised: kept at most 2 calendar months after recording"),
}
_WHERE = {"premises": "recorded on the premises", "external": "recorded at an external site"}
ANONYMISED_WHY = "anonymised footage (no identifiable person or plate left): no limit"


class Rule(NamedTuple):
    """The rule that applies to a clip: its duration (None: no limit), where it comes from and why.

    ``level``: ``camera``, ``site``, ``site_kind``, ``purpose``, ``default`` or ``anonymised``; ``key``: the
    camera id, site id, ``kind/purpose``, purpose or ``kind/purpose`` the rule is keyed by.
    """

    duration: Duration | None
    level: str
    key: str
    why: str

    def explain(self) -> str:
        return self.why


def _durations(table: Any, where: str, keys: tuple[str, ...] | None = None) -> dict[str, Duration]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    out = {}
    for k, v in table.items():
        if keys is not None and k not in keys:
            raise ConfigError(f"{where}: unknown key {k!r}; known: {', '.join(keys)}")
        try:
            out[str(k)] = Duration.parse(v)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{k}: {exc}") from exc
    return out


@dataclass(frozen=True, eq=True)
class Policy:
    """Overrides of the notice's defaults (all empty: the notice as written). See the module docstring for the
    precedence: camera > site > site kind + purpose > purpose > default.

    ``purpose``: purpose -> Duration; ``site_kind``: (kind, purpose) -> Duration; ``site``: site id -> Duration;
    ``camera``: camera id -> Duration.
    """

    purpose: dict[str, Duration] = field(default_factory=dict)
    site_kind: dict[tuple[str, str], Duration] = field(default_factory=dict)
    site: dict[str, Duration] = field(default_factory=dict)
    camera: dict[str, Duration] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.purpose:
            if p not in PURPOSES:
                raise ConfigError(f"policy.purpose: unknown purpose {p!r}; known: {', '.join(PURPOSES)}")
        for kind, p in self.site_kind:
            if kind not in SITE_KINDS:
                raise ConfigError(f"policy.site_kind: unknown site kind {kind!r}; known: {', '.join(SITE_KINDS)}")
            if p not in PURPOSES:
                raise ConfigError(f"policy.site_kind.{kind}: unknown purpose {p!r}; known: {', '.join(PURPOSES)}")
        for table in (self.purpose, self.site_kind, self.site, self.camera):
            for v in table.values():
                if not isinstance(v, Duration):
                    raise ConfigError(f"policy: expected a Duration, got {v!r}")

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    @classmethod
    def from_mapping(cls, table: dict[str, Any] | None, where: str = "policy") -> "Policy":
        """Read the ``[policy]`` table of the configuration file::

            [policy.purpose]             # every site kind
            security = "7 days"
            [policy.site_kind.external]  # one site kind, per purpose
            rnd = "1 month"
            [policy.site]                # one site, every camera and purpose
            lab = "1 year"
            [policy.camera]              # one camera
            gate-2 = "2 weeks"

        Unknown keys, purposes, site kinds and malformed durations are ConfigErrors.
        """
        table = dict(table or {})
        unknown = set(table) - {"purpose", "site_kind", "site", "camera"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}; known: purpose, site_kind, "
                              "site, camera")
        kinds = table.get("site_kind", {})
        if not isinstance(kinds, dict):
            raise ConfigError(f"{where}.site_kind: expected a table, got {kinds!r}")
        site_kind = {}
        for kind, sub in kinds.items():
            if kind not in SITE_KINDS:
                raise ConfigError(f"{where}.site_kind: unknown site kind {kind!r}; known: {', '.join(SITE_KINDS)}")
            for p, d in _durations(sub, f"{where}.site_kind.{kind}", PURPOSES).items():
                site_kind[(kind, p)] = d
        return cls(
            purpose=_durations(table.get("purpose", {}), f"{where}.purpose", PURPOSES),
            site_kind=site_kind,
            site=_durations(table.get("site", {}), f"{where}.site"),
            camera=_durations(table.get("camera", {}), f"{where}.camera"),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The ``[policy]`` table that ``from_mapping`` reads back into an equal Policy."""
        kinds: dict[str, dict[str, str]] = {}
        for (kind, p), d in sorted(self.site_kind.items()):
            kinds.setdefault(kind, {})[p] = d.text()
        return {
            "purpose": {k: v.text() for k, v in sorted(self.purpose.items())},
            "site_kind": kinds,
            "site": {k: v.text() for k, v in sorted(self.site.items())},
            "camera": {k: v.text() for k, v in sorted(self.camera.items())},
        }

    def fingerprint(self) -> str:
        """A short stable hash of the policy: stored deadlines computed under another fingerprint are stale."""
        blob = json.dumps(self.to_mapping(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def rule(self, site_kind: str, purpose: str, anonymised: bool = False, site_id: str | None = None,
             camera_id: str | None = None) -> Rule:
        """The effective rule for a clip (see ``effective_rule``)."""
        if site_kind not in SITE_KINDS:
            raise ValueError(f"unknown site kind {site_kind!r}; known: {', '.join(SITE_KINDS)}")
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; known: {', '.join(PURPOSES)}")
        if anonymised:
            return Rule(None, "anonymised", "", ANONYMISED_WHY)
        default = DEFAULT_RULES[(site_kind, purpose)]
        instead = f"instead of the notice's {default.duration} for {purpose} footage {_WHERE[site_kind]}"
        if camera_id is not None and camera_id in self.camera:
            d = self.camera[camera_id]
            return Rule(d, "camera", camera_id, f"camera {camera_id} override: {d} after recording ({instead})")
        if site_id is not None and site_id in self.site:
            d = self.site[site_id]
            return Rule(d, "site", site_id, f"site {site_id} override: {d} after recording ({instead})")
        if (site_kind, purpose) in self.site_kind:
            d = self.site_kind[(site_kind, purpose)]
            return Rule(d, "site_kind", f"{site_kind}/{purpose}",
                        f"site kind {site_kind}, purpose {purpose} override: {d} after recording ({instead})")
        if purpose in self.purpose:
            d = self.purpose[purpose]
            return Rule(d, "purpose", purpose, f"{purpose} override: {d} after recording ({instead})")
        return Rule(default.duration, "default", f"{site_kind}/{purpose}", f"notice default: {default.why}")


_DEFAULT_POLICY = Policy()


def effective_rule(site_kind: str, purpose: str, anonymised: bool, policy: Policy | None = None,
                   site_id: str | None = None, camera_id: str | None = None) -> Rule:
    """Which rule applies to a clip and why: camera override, else site override, else site kind + purpose
    override, else purpose override, else the notice's default. Anonymised footage: no limit."""
    return (policy or _DEFAULT_POLICY).rule(site_kind, purpose, anonymised, site_id, camera_id)


def deadline(start_utc: datetime, site_tz: str, duration: Duration) -> datetime:
    """``duration`` after ``start_utc`` in the local calendar of ``site_tz``, as the first UTC instant the site's
    clock reaches that wall time."""
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    tz = zone(site_tz)
    local = start_utc.astimezone(tz).replace(tzinfo=None)
    return first_instant(duration.add_to(local), tz)


def purge_after(
    start_utc: datetime,
    site_kind: str,
    site_tz: str,
    purpose: str,
    anonymised: bool,
    policy: Policy | None = None,
    site_id: str | None = None,
    camera_id: str | None = None,
) -> datetime | None:
    """The moment (aware, UTC) from which a clip recorded at ``start_utc`` must be deleted; None: no limit
    (anonymised footage). Computed in the site's local calendar (see the module docstring)."""
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    rule = effective_rule(site_kind, purpose, anonymised, policy, site_id, camera_id)
    if rule.duration is None:
        return None
    return deadline(start_utc, site_tz, rule.duration)


# ------------------------------------------------------------------------------------------------------ decide

# Records are NamedTuples rather than frozen dataclasses: a nightly plan builds two per catalogued clip, and at a
# million clips a frozen dataclass's __init__ alone costs seconds.

class ClipInfo(NamedTuple):
    """A clip as the retention rules see it. Times are aware UTC datetimes.

    ``purge_after``: the deadline stored in the catalogue (computed with ``purge_after`` at ingest, refreshed
    when the policy changes); None for a clip that is not anonymised means "compute it from the policy".
    ``in_archive_root``: the caller resolved the file's real path (symlinks followed) and found it inside the
    archive root; a clip outside is never deleted.
    """

    id: str
    start: datetime
    end: datetime | None = None
    site_id: str = ""
    site_kind: str = "premises"
    site_tz: str = "UTC"
    camera_id: str = ""
    purpose: str = "rnd"
    state: str = "raw"
    purge_after: datetime | None = None
    restricted: bool = False
    in_archive_root: bool = True

    @property
    def anonymised(self) -> bool:
        return self.state == "anonymised"


DELETE = "delete"
KEEP = "keep"
# Reasons, in the order they are checked.
R_DELETED = "deleted"            # keep: already deleted (nothing left to do)
R_ANONYMISED = "anonymised"      # keep: anonymised footage has no limit
R_OUTSIDE_ROOT = "outside_root"  # keep: the file is not inside the archive root (anomaly when due)
R_HELD = "held"                  # keep: an active hold covers the clip
R_NOT_DUE = "not_due"            # keep: the deadline has not passed
R_DUE = "due"                    # delete: the deadline has passed
R_RESUME = "resume"              # delete: a deletion started by an interrupted purge, still due


class Decision(NamedTuple):
    """Keep or delete one clip, with the reason, the deadline and the holds involved."""

    clip_id: str
    action: str
    reason: str
    detail: str
    purge_after: datetime | None
    holds: tuple[str, ...] = ()
    anomaly: bool = False

    @property
    def delete(self) -> bool:
        return self.action == DELETE


def clip_deadline(clip: ClipInfo, policy: Policy | None = None) -> datetime | None:
    """The stored deadline, or the policy's when none is stored; None for anonymised footage."""
    if clip.anonymised:
        return None
    if clip.purge_after is not None:
        return clip.purge_after
    return purge_after(clip.start, clip.site_kind, clip.site_tz, clip.purpose, False, policy,
                       clip.site_id, clip.camera_id)


def _fmt(t: datetime | None, zone: str | None = None) -> str:
    """A deadline as people read it: in the site's zone with its offset (UTC without one)."""
    if t is None:
        return "never"
    return t.astimezone(ZoneInfo(zone) if zone else UTC).isoformat(timespec="seconds")


def decide(clips: Iterable[ClipInfo], holds: Iterable[HoldInfo], policy: Policy | None, now: datetime) -> list[Decision]:
    """For every clip, keep or delete, with the reason and the deadline (borg prune's pattern: a pure function of
    items, rules and ``now``).

    Checked in order: already deleted -> keep; anonymised -> keep (no limit); file outside the archive root ->
    keep (an anomaly if it is due); an active hold covers it -> keep; deadline not reached -> keep; otherwise
    delete. A restricted clip (a data subject's restriction request) is still deleted when due: restriction
    limits use, not deletion. A clip left ``deleting`` by an interrupted purge goes through the same checks,
    and is deleted again ("resume") when still due.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    index = HoldIndex(list(holds), now)
    out: list[Decision] = []
    append = out.append
    for c in clips:
        state = c.state
        if state == "deleted":
            append(Decision(c.id, KEEP, R_DELETED, "already deleted", c.purge_after))
            continue
        if state == "anonymised":
            append(Decision(c.id, KEEP, R_ANONYMISED, ANONYMISED_WHY, None))
            continue
        due_at = c.purge_after if c.purge_after is not None else clip_deadline(c, policy)
        due = due_at is not None and now >= due_at
        if not c.in_archive_root:
            append(Decision(c.id, KEEP, R_OUTSIDE_ROOT,
                            f"file outside the archive root: never deleted by purge (deadline {_fmt(due_at, c.site_tz)})",
                            due_at, (), due))
            continue
        if index:
            held = index.matching(c.id, c.camera_id, c.site_id, c.start, c.end)
            if held:
                append(Decision(c.id, KEEP, R_HELD, f"held by {', '.join(held)} (deadline {_fmt(due_at, c.site_tz)})",
                                due_at, held))
                continue
        if not due:
            append(Decision(c.id, KEEP, R_NOT_DUE, f"kept until {_fmt(due_at, c.site_tz)}", due_at))
            continue
        if state == "deleting":
            append(Decision(c.id, DELETE, R_RESUME, f"deletion interrupted, resumed (deadline {_fmt(due_at, c.site_tz)})",
                            due_at))
        else:
            extra = "; restricted, deleted all the same" if c.restricted else ""
            append(Decision(c.id, DELETE, R_DUE, f"deadline {_fmt(due_at, c.site_tz)} passed{extra}", due_at))
    return out


# --------------------------------------------------------------------------------------------------- pre-filter

#: States ``decide`` keeps whatever the deadline: a purge has nothing to do for these clips.
NEVER_DUE_STATES = ("anonymised", "deleted")
#: States whose clips ``decide`` keeps as long as their (current-policy) deadline lies in the future.
DEADLINE_STATES = ("amended", "quarantined", "raw")


def certainly_kept(state: str, purge_after: datetime | None, now: datetime) -> bool:
    """Whether ``decide`` keeps a clip in ``state`` with this stored deadline, whatever its holds, restriction or
    place, and a purge has nothing to do for it. The purge plan applies this rule in SQL (the same constants) to
    leave most of a large catalogue out; it is only valid for deadlines computed under the current policy. A clip
    being deleted (``deleting``, which a purge may have to restore) or in any other state is never left out."""
    if state in NEVER_DUE_STATES:
        return True
    return state in DEADLINE_STATES and purge_after is not None and purge_after > now
