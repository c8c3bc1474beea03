"""The audit log: append-only events, each chained to the previous one by sha256 (tamper-evident).

An event's hash covers its sequence number, time, actor, action, object, details and the previous event's hash.
``verify`` recomputes the chain and names the first place where an event was changed, removed or inserted. A
chain rewritten from some event to the end is consistent again; keep the head hash somewhere else (a ticket, a
mail) and pass it to ``verify(expect=...)`` to detect that too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from anonymizer.store.schema import audit_events

GENESIS = "0" * 64
#: PostgreSQL advisory lock key that serialises appends to the chain ("audit" in ASCII).
AUDIT_LOCK_KEY = 0x6175646974
UTC = timezone.utc


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: datetime
    actor: str
    action: str
    object: str
    details: str  # canonical JSON text, hashed as stored
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        d["details"] = json.loads(self.details)
        return d


@dataclass
class ChainReport:
    events: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(seq: int, at: datetime, actor: str, action: str, obj: str, details: str, prev_hash: str) -> str:
    blob = json.dumps(
        [seq, at.astimezone(UTC).isoformat(timespec="microseconds"), actor, action, obj, details, prev_hash],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _row(row: Any) -> AuditEvent:
    return AuditEvent(row.seq, row.at, row.actor, row.action, row.object, row.details, row.prev_hash, row.hash)


def append(conn: Connection, at: datetime, actor: str, action: str, obj: str, details: dict[str, Any]) -> AuditEvent:
    """Append one event inside the caller's transaction (so it commits, or not, with what it records).

    Appends are serialised so that the chain stays linear with several writers: on PostgreSQL by a transaction
    advisory lock (held until the caller's commit or rollback), on SQLite by the write lock the catalogue's write
    transactions take at BEGIN."""
    if conn.dialect.name == "postgresql":
        conn.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    last = conn.execute(
        select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
    ).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    at = at.astimezone(UTC)
    text = canonical(details)
    h = event_hash(seq, at, actor, action, obj, text, prev)
    conn.execute(audit_events.insert().values(
        seq=seq, at=at, actor=actor, action=action, object=obj, details=text, prev_hash=prev, hash=h,
    ))
    return AuditEvent(seq, at, actor, action, obj, text, prev, h)


def events(conn: Connection) -> Iterator[AuditEvent]:
    for row in conn.execute(select(audit_events).order_by(audit_events.c.seq)):
        yield _row(row)


def _describe(e: AuditEvent) -> str:
    return f"event {e.seq} ({e.at.isoformat()} {e.action} {e.object})"


def verify(conn: Connection, expect: str | None = None) -> ChainReport:
    """Recompute the chain; every broken link is named (changed, removed or inserted events)."""
    report = ChainReport()
    prev_seq, prev_hash = 0, GENESIS
    seen_expected = expect is None
    for e in events(conn):
        report.events += 1
        if e.seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" if e.seq == prev_seq + 2 else f"{prev_seq + 1}-{e.seq - 1}"
            where = f"after event {prev_seq}" if prev_seq else "at the start"
            report.problems.append(f"events {missing} missing {where}: removed")
        elif e.prev_hash != prev_hash:
            report.problems.append(
                f"{_describe(e)}: its link does not match event {prev_seq}: an event was inserted or removed here"
            )
        if event_hash(e.seq, e.at, e.actor, e.action, e.object, e.details, e.prev_hash) != e.hash:
            report.problems.append(f"{_describe(e)}: changed: its content does not match its hash")
        if expect is not None and e.hash.startswith(expect):
            seen_expected = True
        prev_seq, prev_hash = e.seq, e.hash
    report.head = prev_hash
    if not seen_expected:
        report.problems.append(f"the expected hash {expect} is not in the chain: the log was rewritten or cut")
    return report
