"""``audit verify``: the chain (store.audit) and the catalogue against what the chain last recorded
(domain.audit_replay)."""

from __future__ import annotations

import json

from anonymizer.domain.audit_replay import compare, replay
from anonymizer.store import audit
from anonymizer.store.catalogue import Catalogue


def verify(cat: Catalogue, expect: str | None = None) -> audit.ChainReport:
    """The chain's report, with every difference between the catalogue and the replayed log added as a problem."""
    report = cat.audit_verify(expect)
    events = ((e.action, e.object, json.loads(e.details)) for e in cat.audit_events())
    expected = replay(events)
    report.problems += compare(expected, cat.clip_states(), cat.hold_rows())
    return report
