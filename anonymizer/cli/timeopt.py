"""Click types for times given on the command line: ``INSTANT`` (ISO 8601; without an offset taken as UTC: only for
``purge --now``, a what-if) and ``WALL_TIME`` with ``--tz`` (without an offset: read in the site's zone)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from anonymizer.domain.local_time import LocalTimeError, parse_time


class Instant(click.ParamType):
    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2025-06-01 or 2025-06-01T14:00+02:00)",
                      param, ctx)
        return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


INSTANT = Instant()


class WallTime(click.ParamType):
    """An ISO 8601 date or time as typed: aware when it has an offset (or Z), else a wall-clock reading that the
    command reads in ``--tz`` or the site's zone (never silently as UTC)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except LocalTimeError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2025-06-01, 2025-06-01T14:00 in the site's "
                      "zone, or 2025-06-01T14:00+02:00)", param, ctx)


WALL_TIME = WallTime()

tz_option = click.option(
    "--tz", "tz", metavar="site|UTC|ZONE|+HH:MM",
    help="Zone of the times given without an offset: 'site' (the site's zone), UTC, an IANA zone (Europe/Berlin) "
         "or an offset [default: the zone of the site(s) concerned when they have one; else such times are refused].")
