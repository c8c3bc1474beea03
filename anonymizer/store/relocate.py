"""Moving an archive: the catalogue records the archive root it was last opened under; opened under another root
(the archive copied or restored to another mount point), it rewrites every path inside the old root to the new one,
in one transaction with an audit event, so retention and requests keep working there.

Paths outside the archive (where clips were imported from, exports written elsewhere) are left as they are. The
rewrite happens only when the clips are really there: a configuration pointing at the wrong folder changes
nothing and is one error.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.engine import Connection

from anonymizer.errors import CatalogueError
from anonymizer.store import audit
from anonymizer.store.artefacts import artefact_clips, artefacts
from anonymizer.store.holds import get_state, set_state
from anonymizer.store.schema import clips, file_intents

ARCHIVE_ROOT = "archive_root"
#: (table, column) of every path that may lie inside the archive root.
PATH_COLUMNS = ((clips, "uri"), (clips, "report_uri"), (file_intents, "path"), (file_intents, "temp"))
SAMPLE = 20


def _under(col: Any, prefix: str) -> Any:
    return func.substr(col, 1, len(prefix)) == prefix  # no LIKE: paths may hold % and _


def _moved(old: str, new: str, path: str) -> str:
    return new + path[len(old):]


def relocate(conn: Connection, archive: Path, actor: str = "anonymizer") -> dict[str, Any] | None:
    """Inside the caller's write transaction: record ``archive`` as the root, rewriting paths if it moved.
    Returns what was rewritten (None when nothing moved)."""
    new = str(archive)
    old = get_state(conn, ARCHIVE_ROOT)
    if old == new:
        return None
    set_state(conn, ARCHIVE_ROOT, new)
    if old is None:
        return None
    prefix = old.rstrip(os.sep) + os.sep
    live = [r.uri for r in conn.execute(select(clips.c.uri).where(clips.c.state != "deleted",
                                                                  _under(clips.c.uri, prefix)).limit(SAMPLE))]
    if live and not any(os.path.exists(_moved(old, new, u)) for u in live):
        raise CatalogueError(
            f"the catalogue's archive was {old}, the configuration says {new}, but its clips are not there "
            f"(e.g. {_moved(old, new, live[0])}); fix: point 'archive' at the folder the archive was copied to")
    counts: dict[str, int] = {}
    for table, name in PATH_COLUMNS:
        col = table.c[name]
        res = conn.execute(update(table).where(_under(col, prefix))
                           .values({name: literal(new) + func.substr(col, len(old) + 1)}))
        counts[f"{table.name}.{name}"] = int(res.rowcount or 0)
    # artefacts: the path is a key, referenced by artefact_clips; move the children aside, then back
    moved = [r for r in conn.execute(select(artefacts).where(_under(artefacts.c.path, prefix)))]
    for r in moved:
        children = [c.clip_id for c in conn.execute(select(artefact_clips.c.clip_id)
                                                    .where(artefact_clips.c.path == r.path))]
        conn.execute(artefact_clips.delete().where(artefact_clips.c.path == r.path))
        new_path = _moved(old, new, r.path)
        conn.execute(update(artefacts).where(artefacts.c.path == r.path).values(path=new_path))
        if children:
            conn.execute(artefact_clips.insert(), [{"path": new_path, "clip_id": c} for c in children])
    counts["artefacts.path"] = len(moved)
    details = {"from": old, "to": new, "rewritten": counts}
    audit.append(conn, datetime.now(timezone.utc), actor, "archive.relocated", "archive", details)
    return details
