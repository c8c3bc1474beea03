"""Holds: add, list, release, review. Every change is written to the audit log in the same transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from anonymizer.config import Config
from anonymizer.domain.holds import HoldInfo, check_hold
from anonymizer.domain.local_time import local_label, resolve, tz_option
from anonymizer.errors import AnonymizerError, ConfigError
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import (
    all_holds, get_hold, hold_info, hold_row, holds_with_prefix, insert_hold, release_hold, target_exists,
)


class HoldError(AnonymizerError):
    """A hold cannot be added or released (unknown target, missing reason, unknown hold)."""


def add_hold(cat: Catalogue, *, scope: str, target: str, kind: str, reason: str, owner: str, now: datetime,
             actor: str, start: datetime | None = None, end: datetime | None = None,
             review: datetime | None = None, expires: datetime | None = None, tz: str | None = None,
             config: Config | None = None) -> dict[str, Any]:
    """Store a hold after checking it (reason, owner, review date for ``rnd``, known target) and audit it.

    Times without an offset are read in ``tz`` or the zone of the hold's site (the clip's, the camera's, the
    site); refused when none is known."""
    site: str | None = None
    if scope == "clip":
        clip = cat.get(target)  # a unique id prefix is enough
        target, site = clip.id, clip.site_id
    elif scope == "site":
        site = target
    elif config is not None and target in config.cameras:
        site = config.cameras[target].site
    zones = {config.sites[site].timezone} if config is not None and site in config.sites else set()
    zone = tz_option(tz, zones)
    start, review = (None if t is None else resolve(t, zone, "start", what=w)
                     for t, w in ((start, "--from"), (review, "--review")))
    end, expires = (None if t is None else resolve(t, zone, "end", what=w)
                    for t, w in ((end, "--until"), (expires, "--expires")))
    hold = HoldInfo("h" + secrets.token_hex(6), scope, target, kind, reason.strip(), owner.strip(), start, end,
                    review, expires)
    problems = check_hold(hold)
    if review is not None and review <= now:  # a review date already past would make the hold overdue at once
        problems.append(f"--review {review.astimezone(zone).isoformat(sep=' ') if zone else review.isoformat(sep=' ')}"
                        " is in the past; give the future date by which someone must confirm the hold is still needed")
    if problems:
        raise ConfigError("hold: " + "; ".join(problems))
    with cat.transaction() as conn:
        if scope in ("camera", "site") and not target_exists(conn, scope, target):
            raise HoldError(f"no {scope} {target!r} in the catalogue")
        insert_hold(conn, hold, now, actor)
        row = get_hold(conn, hold.id)
        details = hold_row(row)
        cat.audit_append(conn, now, actor, "hold.add", f"hold:{hold.id}", details)
    return with_local_times(cat, config, dict(details))


_TIMES = ("start_utc", "end_utc", "review_at", "expires_at", "released_at", "created_at")


def with_local_times(cat: Catalogue, config: Config | None, d: dict[str, Any]) -> dict[str, Any]:
    """The hold with its times also in the local time of its site (``*_local``; ``timezone``)."""
    if config is None:
        return d
    site: str | None = None
    if d["scope"] == "site":
        site = d["target"]
    elif d["scope"] == "camera":
        cam = config.cameras.get(d["target"])
        site = cam.site if cam else None
    else:
        try:
            site = cat.get(d["target"]).site_id
        except AnonymizerError:
            site = None
    zone = config.sites[site].timezone if site in config.sites else None
    d["timezone"] = zone
    for k in _TIMES:
        if d.get(k):
            d[k.replace("_utc", "").replace("_at", "") + "_local"] = local_label(datetime.fromisoformat(d[k]), zone)
    return d


def list_holds(cat: Catalogue, now: datetime, include_inactive: bool = False,
               config: Config | None = None) -> list[dict[str, Any]]:
    with cat.engine.connect() as conn:
        rows = all_holds(conn)
    out = []
    for r in rows:
        h = hold_info(r)
        if not include_inactive and not h.active(now):
            continue
        d = hold_row(r)
        d["active"] = h.active(now)
        d["overdue"] = h.overdue(now)
        with_local_times(cat, config, d)
        out.append(d)
    return out


def review_holds(cat: Catalogue, now: datetime, config: Config | None = None) -> list[dict[str, Any]]:
    """Active holds past their review date: someone must confirm them (add a new one) or release them."""
    return [h for h in list_holds(cat, now, config=config) if h["overdue"]]


def resolve_hold(conn: Any, ident: str) -> Any:
    """A hold by id or by a unique prefix of it (at least 4 characters, the leading ``h`` optional), as clips."""
    text = ident.strip().lower()
    digits = text[1:] if text.startswith("h") else text
    # 4 characters of the id as listed, 'h' included (h21d), or 4 of its hex digits without it (21df)
    if len(text) < 4 or not digits or any(ch not in "0123456789abcdef" for ch in digits):
        raise HoldError(f"hold id {ident!r}: give the id or at least 4 characters of it, the 'h' optional "
                        "('anonymizer holds list --all')")
    rows = holds_with_prefix(conn, "h" + digits)
    if not rows:
        raise HoldError(f"no hold {ident!r} (list them with 'anonymizer holds list --all')")
    if len(rows) > 1:
        raise HoldError(f"hold id {ident!r} is ambiguous ({', '.join(r.id for r in rows)}, ...): give more digits")
    return rows[0]


def release(cat: Catalogue, hold_id: str, *, reason: str, now: datetime, actor: str,
            config: Config | None = None) -> dict[str, Any]:
    if not reason.strip():
        raise ConfigError("hold release: a reason is required")
    with cat.transaction() as conn:
        row = resolve_hold(conn, hold_id)
        hold_id = row.id
        if not hold_info(row).active(now):
            raise HoldError(f"hold {hold_id} is not active (released or expired already)")
        release_hold(conn, hold_id, now, actor, reason.strip())
        details = hold_row(get_hold(conn, hold_id))
        cat.audit_append(conn, now, actor, "hold.release", f"hold:{hold_id}", details)
    return with_local_times(cat, config, dict(details))
