"""What the audit log says the catalogue should hold: each clip's state and deadline, each hold, replayed from the
events (pure). ``audit verify`` compares the catalogue with it, so a direct edit of the catalogue (a deadline set
to 2099, a clip marked deleted, a hold released by hand) or an emptied audit table is caught, not only a changed
event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

_CLIP = re.compile(r"clip[: ]([0-9a-f]{4,64})$")
_HOLD = re.compile(r"hold:(.+)$")
UNKNOWN = object()  # a deadline the log does not record (events older than this check)

#: Event -> the state it leaves the clip in (None: the state named in its details).
STATE_OF = {
    "ingest": "raw",
    "anonymise": "anonymised",
    "quarantine": "quarantined",
    "quarantine.replaced": "deleted",
    "purge.delete": "deleted",
    "purge.restore": None,
    "request.remove": "deleted",
    "request.redact": None,
    "request.cut": None,
}
CREATES = ("ingest", "anonymise", "quarantine")


@dataclass
class ClipFacts:
    state: str
    purge_after: Any = UNKNOWN  # ISO text, None, or UNKNOWN


@dataclass
class Expected:
    clips: dict[str, ClipFacts] = field(default_factory=dict)
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)


def replay(events: Iterable[tuple[str, str, dict[str, Any]]]) -> Expected:
    """``events``: (action, object, details) in chain order."""
    out = Expected()
    for action, obj, details in events:
        if action == "retention.policy":
            for cid, when in (details.get("deadlines") or {}).items():
                if cid in out.clips:
                    out.clips[cid].purge_after = when
            continue
        m = _HOLD.match(obj)
        if m and action in ("hold.add", "hold.release"):
            out.holds[m.group(1)] = details
            continue
        m = _CLIP.match(obj)
        if not m or action not in STATE_OF:
            continue
        cid = m.group(1)
        state = STATE_OF[action]
        if action == "purge.restore":  # the state put back (raw before the event recorded it)
            state = details.get("state", "raw")
        elif state is None:  # an amendment: the state it records, when it changed the file
            if "sha256" not in details:
                continue
            state = details.get("state", "amended")
        facts = out.clips.get(cid)
        if action in CREATES or facts is None:
            facts = out.clips[cid] = ClipFacts(state, details.get("purge_after", UNKNOWN))
        facts.state = state
    return out


def _same_time(a: Any, b: Any) -> bool:
    return (a or None) == (b or None)


def compare(expected: Expected, clips: Iterable[tuple[str, str, str | None]],
            holds: Iterable[dict[str, Any]]) -> list[str]:
    """Problems between the catalogue (``clips``: id, state, purge_after as ISO text; ``holds``: rows as plain
    values) and what the log last recorded. A clip left ``deleting`` by an interrupted purge is fine."""
    problems = []
    n_clips = 0
    for cid, state, purge_after in clips:
        n_clips += 1
        facts = expected.clips.get(cid)
        if facts is None:
            problems.append(f"clip {cid} ({state}) has no event in the audit log: events were removed, or the clip "
                            "was added to the catalogue by hand")
            continue
        if state != facts.state and not (state == "deleting" and facts.state != "deleted"):
            problems.append(f"clip {cid} is {state} in the catalogue but {facts.state} in the audit log: the "
                            "catalogue was changed by hand")
        if facts.purge_after is not UNKNOWN and state != "deleted" and not _same_time(purge_after,
                                                                                      facts.purge_after):
            problems.append(f"clip {cid}: purge_after {purge_after} in the catalogue but {facts.purge_after} in the "
                            "audit log: the deadline was changed by hand")
    for row in holds:
        recorded = expected.holds.get(str(row["id"]))
        if recorded is None:
            problems.append(f"hold {row['id']} has no event in the audit log: added by hand, or events removed")
            continue
        changed = sorted(k for k, v in recorded.items() if k in row and row[k] != v)
        if changed:
            problems.append(f"hold {row['id']}: {', '.join(changed)} differ from the audit log: changed by hand")
    return problems
