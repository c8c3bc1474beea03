"""Retention deadlines of the privacy notice (DESIGN.md section 1), as pure functions.

Minimal first version (the retention work extends it): ``purge_after`` computes when raw footage must be gone.
Months are calendar months in the site's local calendar, clamped to month end (31 Aug + 6 months = 28/29 Feb).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Policy:
    """How long raw footage is kept at most (the notice's table)."""

    security_days: int = 3
    premises_months: int = 6
    external_months: int = 2


def add_months(local: datetime, months: int) -> datetime:
    """Same wall-clock time ``months`` calendar months later, the day clamped to the month's end."""
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def purge_after(
    start_utc: datetime,
    site_kind: str,
    site_tz: str,
    purpose: str,
    anonymised: bool,
    policy: Policy | None = None,
) -> datetime | None:
    """The moment (aware, UTC) after which a clip recorded at ``start_utc`` must be deleted; None: no limit."""
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware")
    if anonymised:
        return None
    policy = policy or Policy()
    tz = ZoneInfo(site_tz)
    local = start_utc.astimezone(tz).replace(tzinfo=None)
    if purpose == "security":
        wall = local + timedelta(days=policy.security_days)
    elif site_kind == "premises":
        wall = add_months(local, policy.premises_months)
    elif site_kind == "external":
        wall = add_months(local, policy.external_months)
    else:
        raise ValueError(f"unknown site kind {site_kind!r}")
    return wall.replace(tzinfo=tz).astimezone(timezone.utc)
