"""One writer at a time where it matters: the audit chain (read the last event, then append), the leases, and
a purge's check of a clip's lease before it marks the clip ``deleting``.

On SQLite every ``Catalogue.transaction`` holds the database's write lock from BEGIN: writers queue. PostgreSQL
takes the audit chain's transaction-scoped advisory lock here (the same one ``audit.append`` takes; re-entrant),
released at commit or rollback, also when the process dies.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from anonymizer.store.audit import AUDIT_LOCK_KEY


def serialise(conn: Connection) -> None:
    """Make the rest of the caller's transaction the only writer of the chain and the leases until it ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
