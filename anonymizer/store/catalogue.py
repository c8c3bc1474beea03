"""The catalogue: open (creating and migrating), sites and cameras from the configuration, clip records, queries.

SQLAlchemy Core with portable SQL; SQLite (WAL, file mode 0600) by default, a PostgreSQL URL works the same way.
Callers write inside ``transaction()`` so that a clip and its audit event commit together or not at all.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import and_, create_engine, event, exists, func, or_, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from anonymizer.domain.clips import ClipRecord
from anonymizer.domain.sites import Camera, Site
from anonymizer.errors import CatalogueError, DuplicateClipError, ReadOnlyError
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store import audit
from anonymizer.store import leases as lease_rows
from anonymizer.store.holds import all_holds, hold_row
from anonymizer.store.relocate import relocate
from anonymizer.store.schema import cameras, clips, sites

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
FILE_MODE = 0o600
DIR_MODE = 0o700

_COLUMN = {"start": "start_utc", "end": "end_utc"}  # record field -> column, where they differ


#: Execution option of the connections ``Catalogue.transaction`` hands out: they will write.
WRITE = "anonymizer_write"


def _enable_sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below) instead of the sqlite3 module, which begins only at the first write:
    # a read-then-write (the audit chain's head, a clip's state) then runs in one transaction.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_read_only_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # as for a writable catalogue: SQLAlchemy emits BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """A writer takes SQLite's write lock at BEGIN (waiting up to the busy timeout), so no other writer can commit
    between what it read and what it writes; readers begin deferred and never block writers (WAL)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def masked_url(url: str) -> str:
    """The URL as messages show it: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _record(row: Any) -> ClipRecord:
    m = row._mapping
    return ClipRecord(**{f.name: m[_COLUMN.get(f.name, f.name)] for f in fields(ClipRecord)})


def _values(clip: ClipRecord) -> dict[str, Any]:
    return {_COLUMN.get(f.name, f.name): getattr(clip, f.name) for f in fields(ClipRecord)}


def _empty(where: str) -> str:
    return (f"catalogue {where} is empty (no schema, no clips, no audit log): refused, since a new empty one would "
            "forget every clip's deadline; fix: restore it from a backup, or make a new one with 'anonymizer init "
            "ARCHIVE' and list the files it does not know with 'anonymizer audit verify'")


@dataclass(frozen=True)
class ClipFilter:
    site: str | None = None
    camera: str | None = None
    purpose: str | None = None
    state: str | None = None
    since: datetime | None = None  # recording overlaps [since, until)
    until: datetime | None = None
    expiring_before: datetime | None = None
    uri_prefix: str | None = None
    imported_from_prefix: str | None = None
    limit: int | None = None


class Catalogue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.read_only = False

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, url: str, create: bool = False, archive: Path | None = None) -> "Catalogue":
        """Open the catalogue at ``url`` and bring its schema to the newest migration. A SQLite file that does not
        exist is created (mode 0600), and an empty catalogue given its schema, only when ``create`` is true. With
        ``archive`` (the configured root), an archive that was moved or restored elsewhere has its paths rewritten
        (``store.relocate``)."""
        try:
            path = sqlite_path(url)
        except ArgumentError as exc:
            raise CatalogueError(f"catalogue URL {masked_url(url)!r} is not a valid SQLAlchemy URL") from exc
        if path is not None:
            if not path.exists():
                if not create:
                    raise CatalogueError(
                        f"no catalogue at {path} (create it with 'anonymizer init ARCHIVE', or fix 'catalogue' "
                        "in the configuration)"
                    )
                path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            elif not create and path.is_file() and path.stat().st_size == 0:
                raise CatalogueError(_empty(f"{path} (0 bytes)"))  # before SQLite's WAL pragma writes to it
        read_only = path is not None and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        if read_only:  # a read-only archive (a mounted backup, another user's): listed and verified, not changed
            url = f"sqlite:///file:{path.resolve()}?mode=ro&immutable=1&uri=true"
        try:
            engine = create_engine(url, future=True)
        except (ArgumentError, ImportError) as exc:
            raise CatalogueError(f"catalogue URL {masked_url(url)!r} cannot be used ({exc})") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _enable_sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        cat = cls(engine)
        cat.read_only = read_only
        if not create:
            try:
                cat.require_made()
            except CatalogueError:
                cat.close()
                raise
        if read_only:
            cat.check_schema()
            return cat
        cat.migrate()
        if archive is not None:
            try:
                with cat.transaction() as conn:
                    moved = relocate(conn, Path(archive))
            except CatalogueError:
                cat.close()
                raise
            if moved:
                log.warning("the archive moved from %s to %s: paths in the catalogue rewritten (%s)", moved["from"],
                            moved["to"], ", ".join(f"{k} {v}" for k, v in moved["rewritten"].items() if v))
        return cat

    def require_made(self) -> None:
        """Refuse a catalogue without a schema (a SQLite file emptied to 0 bytes, a database without tables): only
        ``init`` makes one, since an empty catalogue forgets every clip and its deadline while the files stay."""
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError:
            return  # not a database at all, or not reachable: migrate and check_schema say which
        if current is None:
            raise CatalogueError(_empty(self.shown()))

    def check_schema(self) -> None:
        """A catalogue that cannot be written must already be at the newest schema (nothing can migrate it)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            raise CatalogueError(f"catalogue {self.engine.url!r} is not a usable catalogue ({orig}); fix: restore it "
                                 "from a backup, or point 'catalogue' in the configuration at the right one") from exc
        head = ScriptDirectory.from_config(cfg).get_current_head()
        if current != head:
            raise CatalogueError(f"catalogue {self.engine.url!r} is read-only and at schema {current}, this version "
                                 f"needs {head}; fix: open it once where it can be written (it is migrated then)")

    def migrate(self) -> None:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise CatalogueError(f"catalogue {self.engine.url!r} cannot be opened ({exc.orig})") from exc
        except CommandError as exc:  # a catalogue of a newer version, or another program's alembic history
            raise CatalogueError(f"catalogue {self.engine.url!r} has a schema this version does not know ({exc}); "
                                 "fix: upgrade footage-anonymizer, or point 'catalogue' at the right one") from exc
        except SQLAlchemyError as exc:  # not a database at all (a garbage or truncated file), or not ours
            orig = getattr(exc, "orig", None) or exc
            raise CatalogueError(f"catalogue {self.engine.url!r} is not a usable catalogue ({orig}); fix: restore it "
                                 "from a backup, or point 'catalogue' in the configuration at the right one") from exc

    def shown(self) -> str:
        """The catalogue as messages name it: a SQLite file's path, else the URL without its password."""
        u = self.engine.url
        if u.get_backend_name() == "sqlite":
            return (u.database or "").removeprefix("file:")
        return u.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Catalogue":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
                yield conn
        except OperationalError as exc:
            if _read_only(exc):
                raise ReadOnlyError(f"catalogue {self.shown()} is read-only to this user ({exc.orig}); nothing "
                                    "was changed; fix: run the command as the archive's owner, or where the "
                                    "catalogue can be written") from exc
            raise CatalogueError(f"catalogue write failed ({exc.orig}); try again") from exc

    # ------------------------------------------------------------------ sites and cameras

    def sync(self, conn: Connection, site_list: Iterable[Site], camera_list: Iterable[Camera]) -> None:
        """Make the sites and cameras tables match the configuration (insert new ones, update changed ones)."""
        for s in site_list:
            values = {"name": s.name, "kind": s.kind, "timezone": s.timezone, "lat": s.lat, "lon": s.lon,
                      "radius_m": s.radius_m, "address": s.address}
            self._upsert(conn, sites, s.id, values)
        for c in camera_list:
            values = {"site_id": c.site, "purpose": c.purpose, "audio_area": c.audio_area, "clock": c.clock,
                      "clock_offset_s": c.clock_offset_s, "filename_pattern": c.filename_pattern}
            self._upsert(conn, cameras, c.id, values)

    @staticmethod
    def _upsert(conn: Connection, table: Any, key: str, values: dict[str, Any]) -> None:
        row = conn.execute(select(table).where(table.c.id == key)).first()
        if row is None:
            conn.execute(table.insert().values(id=key, **values))
        elif any(row._mapping[k] != v for k, v in values.items()):
            conn.execute(table.update().where(table.c.id == key).values(**values))

    # ------------------------------------------------------------------ clips

    def add_clip(self, conn: Connection, clip: ClipRecord) -> None:
        """Insert a clip; the same content registered meanwhile (sha256 or id taken) is a DuplicateClipError."""
        try:
            conn.execute(clips.insert().values(**_values(clip)))
        except IntegrityError as exc:  # the transaction is lost (PostgreSQL): the caller's rolls back
            raise DuplicateClipError(
                f"clip {clip.id}: the same content was registered meanwhile; fix: run again to see which clip"
            ) from exc

    def move_clip(self, conn: Connection, clip_id: str, old_uri: str, new_uri: str, imported_from: str | None) -> bool:
        """Point a clip at a new file, if it still points at ``old_uri``; whether it did."""
        res = conn.execute(clips.update().where(clips.c.id == clip_id, clips.c.uri == old_uri)
                           .values(uri=new_uri, imported_from=imported_from))
        return res.rowcount == 1

    def accept_quarantined(self, conn: Connection, clip_id: str, uri: str, report_uri: str,
                           purge_after: datetime | None) -> bool:
        """A quarantined copy the user accepted, moved to ``uri``: now an anonymised copy with that deadline;
        whether it was still quarantined."""
        res = conn.execute(clips.update().where(clips.c.id == clip_id, clips.c.state == "quarantined")
                           .values(state="anonymised", uri=uri, report_uri=report_uri, purge_after=purge_after))
        return res.rowcount == 1

    def set_state(self, conn: Connection, clip_id: str, state: str) -> None:
        conn.execute(clips.update().where(clips.c.id == clip_id).values(state=state))

    def by_sha256(self, conn: Connection, sha256: str) -> ClipRecord | None:
        row = conn.execute(select(clips).where(clips.c.sha256 == sha256)).first()
        return _record(row) if row else None

    def by_uri(self, conn: Connection, uri: str) -> list[ClipRecord]:
        return [_record(r) for r in conn.execute(select(clips).where(clips.c.uri == uri).order_by(clips.c.id))]

    def by_imported_from(self, conn: Connection, source: str) -> list[ClipRecord]:
        q = select(clips).where(clips.c.imported_from == source).order_by(clips.c.id)
        return [_record(r) for r in conn.execute(q)]

    def derived(self, conn: Connection, raw_id: str, state: str = "anonymised") -> list[ClipRecord]:
        q = select(clips).where(clips.c.derived_from == raw_id, clips.c.state == state).order_by(clips.c.id)
        return [_record(r) for r in conn.execute(q)]

    def due_without_copy(self, start: datetime, end: datetime) -> list[ClipRecord]:
        """Originals (raw or amended) due in [start, end) that have no anonymised copy: footage lost for good at
        the deadline unless someone holds it or gets a copy made."""
        copy = clips.alias("copy")
        q = (select(clips).where(clips.c.state.in_(("raw", "amended")), clips.c.derived_from.is_(None),
                                 clips.c.purge_after >= start, clips.c.purge_after < end,
                                 ~exists().where(copy.c.derived_from == clips.c.id, copy.c.state == "anonymised"))
             .order_by(clips.c.purge_after, clips.c.id))
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q)]

    def get(self, ident: str) -> ClipRecord:
        """A clip by id or by a unique id prefix (at least 4 characters)."""
        ident = ident.strip().lower()
        if len(ident) < 4 or any(ch not in "0123456789abcdef" for ch in ident):
            raise CatalogueError(f"clip id {ident!r}: give at least 4 hex digits of the id ('anonymizer clips list')")
        with self.engine.connect() as conn:
            q = select(clips).where(func.substr(clips.c.id, 1, len(ident)) == ident).limit(2)
            rows = conn.execute(q).all()
        if not rows:
            raise CatalogueError(f"no clip {ident!r} in the catalogue (list them with 'anonymizer clips list')")
        if len(rows) > 1:
            raise CatalogueError(f"clip id {ident!r} is ambiguous (give more characters)")
        return _record(rows[0])

    def find(self, f: ClipFilter = ClipFilter()) -> list[ClipRecord]:
        cond = []
        if f.site:
            cond.append(clips.c.site_id == f.site)
        if f.camera:
            cond.append(clips.c.camera_id == f.camera)
        if f.purpose:
            cond.append(clips.c.purpose == f.purpose)
        if f.state:
            cond.append(clips.c.state == f.state)
        if f.since is not None:
            cond.append(or_(clips.c.end_utc >= f.since, and_(clips.c.end_utc.is_(None), clips.c.start_utc >= f.since)))
        if f.until is not None:
            cond.append(clips.c.start_utc < f.until)
        if f.expiring_before is not None:
            cond.append(and_(clips.c.purge_after.is_not(None), clips.c.purge_after < f.expiring_before))
        if f.uri_prefix is not None:
            # a prefix test without LIKE wildcards (paths may hold % and _)
            cond.append(func.substr(clips.c.uri, 1, len(f.uri_prefix)) == f.uri_prefix)
        if f.imported_from_prefix is not None:
            cond.append(func.substr(clips.c.imported_from, 1, len(f.imported_from_prefix)) == f.imported_from_prefix)
        q = select(clips).where(*cond).order_by(clips.c.start_utc, clips.c.id)
        if f.limit:
            q = q.limit(f.limit)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q)]

    # ------------------------------------------------------------------ leases

    def lease(self, clip_ids: Iterable[str], holder: str, command: str,
              states: tuple[str, ...] | None = None) -> dict[str, str]:
        """Lease clips for ``holder`` (``store.leases``); returns those refused, each with why. Leases run on the
        wall clock, whatever time a command is told it is."""
        with self.transaction() as conn:
            return lease_rows.acquire(conn, clip_ids, holder, command, lease_rows.wall_clock(), states=states)

    def release(self, clip_ids: Iterable[str], holder: str) -> None:
        with self.transaction() as conn:
            lease_rows.release(conn, clip_ids, holder)

    def release_all(self, holder: str) -> None:
        with self.transaction() as conn:
            lease_rows.release_all(conn, holder)

    def leases(self) -> dict[str, lease_rows.Lease]:
        with self.engine.connect() as conn:
            return lease_rows.active(conn, lease_rows.wall_clock())

    # ------------------------------------------------------------------ audit

    def audit_append(self, conn: Connection, at: datetime, actor: str, action: str, obj: str,
                     details: dict[str, Any]) -> audit.AuditEvent:
        return audit.append(conn, at, actor, action, obj, details)

    def audit_verify(self, expect: str | None = None) -> audit.ChainReport:
        with self.engine.connect() as conn:
            return audit.verify(conn, expect)

    def stats_rows(self) -> Iterator[Any]:
        """Every clip with what ``stats`` aggregates (no path): site, camera, purpose, times, state, the site's
        time zone; streamed."""
        q = (select(clips.c.id, clips.c.site_id, clips.c.camera_id, clips.c.purpose, clips.c.start_utc,
                    clips.c.end_utc, clips.c.duration_s, clips.c.state, clips.c.derived_from, sites.c.timezone)
             .select_from(clips.join(sites, clips.c.site_id == sites.c.id)))
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=20000).execute(q)

    def clip_states(self) -> list[tuple[str, str, str | None]]:
        """Every clip's id, state and deadline (ISO 8601 UTC), for ``audit verify``."""
        q = select(clips.c.id, clips.c.state, clips.c.purge_after).order_by(clips.c.id)
        with self.engine.connect() as conn:
            return [(r.id, r.state, r.purge_after.isoformat() if r.purge_after else None) for r in conn.execute(q)]

    def owned_paths(self) -> set[str]:
        """Every path the catalogue answers for: the files of clips not deleted and their reports, and the live
        artefacts (a folder artefact owns what is inside it)."""
        q = select(clips.c.uri, clips.c.report_uri).where(clips.c.state != "deleted")
        with self.engine.connect() as conn:
            owned = {p for r in conn.execute(q) for p in (r.uri, r.report_uri) if p}
            owned.update(a.path for a in artefact_rows.live(conn))
        return owned

    def hold_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [hold_row(h) for h in all_holds(conn)]

    def audit_events(self) -> list[audit.AuditEvent]:
        with self.engine.connect() as conn:
            return list(audit.events(conn))


__all__ = ["Catalogue", "ClipFilter", "CatalogueError", "SQLAlchemyError"]


def _read_only(exc: OperationalError) -> bool:
    """A write refused because the database (or its folder) is read-only: trying again will not help."""
    text = str(exc.orig).lower()
    return "readonly" in text or "read-only" in text or getattr(exc.orig, "sqlite_errorname", "").startswith(
        "SQLITE_READONLY")
