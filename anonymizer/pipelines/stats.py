"""Statistics that outlive the footage: counts and hours per site, month and purpose. No personal data: no clip
id, path, time of day or place finer than the site leaves this module.

Per (site, month of the recording start in the site's local calendar, purpose):

- ``recorded``: original recordings (clips not derived from another), whatever became of them
- ``anonymised``: anonymised copies made of them
- ``deleted``: originals deleted (by the purge or a request)
- ``held``: originals not deleted and covered by an active hold now
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from anonymizer.domain.holds import HoldIndex
from anonymizer.domain.retention import zone
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import all_holds, hold_info

KINDS = ("recorded", "anonymised", "deleted", "held")


def _hours(r: Any) -> float:
    if r.duration_s is not None:
        return float(r.duration_s) / 3600.0
    if r.end_utc is not None:
        return (r.end_utc - r.start_utc).total_seconds() / 3600.0
    return 0.0


def stats(cat: Catalogue, now: datetime) -> list[dict[str, Any]]:
    """One row per (site, month, purpose), sorted; each kind has a clip count and hours."""
    table: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    with cat.engine.connect() as conn:
        index = HoldIndex([hold_info(h) for h in all_holds(conn)], now)
    for r in cat.stats_rows():
        month = r.start_utc.astimezone(zone(r.timezone)).strftime("%Y-%m")
        row = table.setdefault((r.site_id, month, r.purpose), {k: [0, 0.0] for k in KINDS})
        h = _hours(r)
        kinds = []
        if r.derived_from is None and r.state != "anonymised":
            kinds.append("recorded")
            if r.state == "deleted":
                kinds.append("deleted")
            elif index and index.matching(r.id, r.camera_id, r.site_id, r.start_utc, r.end_utc):
                kinds.append("held")
        if r.state == "anonymised":
            kinds.append("anonymised")
        for k in kinds:
            row[k][0] += 1
            row[k][1] += h
    out = []
    for (site, month, purpose), row in sorted(table.items()):
        item: dict[str, Any] = {"site": site, "month": month, "purpose": purpose}
        for k in KINDS:
            item[f"{k}_clips"] = int(row[k][0])
            item[f"{k}_hours"] = round(row[k][1], 6)  # a 1 s clip is 0.000278 h: not rounded away
            item[f"{k}_seconds"] = round(row[k][1] * 3600.0, 3)
        out.append(item)
    return out


def at_risk(cat: Catalogue, now: datetime, warn_days: int) -> dict[str, int]:
    """Per camera, how many originals are due within ``warn_days`` with no anonymised copy and no hold (counts
    only: no clip leaves this module; ``purge --dry-run`` names them)."""
    with cat.engine.connect() as conn:
        index = HoldIndex([hold_info(h) for h in all_holds(conn)], now)
    out: dict[str, int] = {}
    for c in cat.due_without_copy(now, now + timedelta(days=warn_days)):
        if index and index.matching(c.id, c.camera_id, c.site_id, c.start, c.end):
            continue
        out[c.camera_id] = out.get(c.camera_id, 0) + 1
    return dict(sorted(out.items()))
