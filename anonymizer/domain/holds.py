"""Holds: what keeps a clip past its retention deadline (DESIGN.md section 3), as pure values.

A hold names a scope (one clip, every clip of a camera, or every clip of a site) and, for camera and site scopes,
a time range of recordings. It blocks deletion while it is *active*: not released and not expired. A hold past
its review date is still active (deleting research footage because a review was missed cannot be undone), but
``holds review`` and the purge report list it so that someone decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

HOLD_SCOPES = ("clip", "camera", "site")
HOLD_KINDS = ("rnd", "incident", "legal")
#: Kinds that must carry a review date (the notice: "needed for further R&D purposes", with a review date).
REVIEW_REQUIRED = ("rnd",)


class HoldInfo(NamedTuple):
    """One hold as the retention rules see it. Times are aware UTC datetimes.

    ``start``/``end`` bound the recordings covered for camera and site scopes (None: unbounded on that side);
    a clip-scoped hold covers its clip whatever the range. ``expires``: the hold stops blocking from that moment
    (None: until released). ``released``: when it was released (None: not released).
    """

    id: str
    scope: str
    target: str
    kind: str
    reason: str = ""
    owner: str = ""
    start: datetime | None = None
    end: datetime | None = None
    review: datetime | None = None
    expires: datetime | None = None
    released: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while the hold blocks deletion: not released (at ``now``) and not expired."""
        if self.released is not None and self.released <= now:
            return False
        return self.expires is None or now < self.expires

    def overdue(self, now: datetime) -> bool:
        """Active and past its review date: someone must confirm it is still needed, or release it."""
        return self.active(now) and self.review is not None and self.review <= now

    def covers_range(self, start: datetime, end: datetime | None) -> bool:
        """Whether the recording ``[start, end]`` overlaps the hold's time range (touching counts: evidence
        at the edge of an incident window is kept rather than lost)."""
        end = start if end is None else end
        if self.start is not None and end < self.start:
            return False
        return self.end is None or start <= self.end


def check_hold(hold: HoldInfo) -> list[str]:
    """What is wrong with a hold (empty: nothing). Used before a hold is stored."""
    problems = []
    if hold.scope not in HOLD_SCOPES:
        problems.append(f"scope must be one of {', '.join(HOLD_SCOPES)}, got {hold.scope!r}")
    if hold.kind not in HOLD_KINDS:
        problems.append(f"kind must be one of {', '.join(HOLD_KINDS)}, got {hold.kind!r}")
    if not hold.target.strip():
        problems.append("a target (clip, camera or site id) is required")
    if not hold.reason.strip():
        problems.append("a reason is required")
    if not hold.owner.strip():
        problems.append("an owner is required")
    if hold.kind in REVIEW_REQUIRED and hold.review is None:
        problems.append(f"a {hold.kind} hold requires a review date")
    if hold.start is not None and hold.end is not None and hold.end < hold.start:
        problems.append("the time range ends before it starts")
    for name in ("start", "end", "review", "expires", "released"):
        value = getattr(hold, name)
        if value is not None and value.tzinfo is None:
            problems.append(f"{name} must be timezone-aware")
    return problems


class HoldIndex:
    """The holds active at one moment, indexed by scope so that a million clips are matched quickly."""

    def __init__(self, holds: list[HoldInfo] | tuple[HoldInfo, ...], now: datetime) -> None:
        self.by_scope: dict[str, dict[str, list[HoldInfo]]] = {s: {} for s in HOLD_SCOPES}
        for h in holds:
            if h.active(now):
                self.by_scope.setdefault(h.scope, {}).setdefault(h.target, []).append(h)
        self.clip = self.by_scope["clip"]
        self.camera = self.by_scope["camera"]
        self.site = self.by_scope["site"]

    def __bool__(self) -> bool:
        return bool(self.clip or self.camera or self.site)

    def matching(self, clip_id: str, camera_id: str, site_id: str, start: datetime,
                 end: datetime | None) -> tuple[str, ...]:
        """Ids of the active holds that cover this clip."""
        found: list[str] = [h.id for h in self.clip.get(clip_id, ())]
        for h in self.camera.get(camera_id, ()):
            if h.covers_range(start, end):
                found.append(h.id)
        for h in self.site.get(site_id, ()):
            if h.covers_range(start, end):
                found.append(h.id)
        return tuple(found)
