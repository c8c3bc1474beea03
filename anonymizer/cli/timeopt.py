"""A click type for aware datetimes given on the command line (ISO 8601; a date or a time without an offset is
taken as UTC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click


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
