"""The nightly purge: plan with the pure ``decide``, then delete what is due, one clip at a time.

For each clip to delete: mark it ``deleting`` (committed), unlink the file, mark it ``deleted`` together with its
audit event (one transaction). A purge killed at any point leaves each clip either untouched, ``deleting`` (the
next purge resumes it: the file is unlinked if still there) or ``deleted`` with its event: a rerun finishes the
job. One purge at a time: a lock file in the archive root (a second purge raises LockedError, exit 75).

It never deletes a file outside the archive root: the planner checks each path lexically, and each path to delete
again with every symlink resolved, just before unlinking it.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import String, case, func, select, type_coerce, union_all, update
from sqlalchemy.engine import Connection

from anonymizer.domain.holds import HoldIndex, HoldInfo
from anonymizer.domain.retention import (
    DEADLINE_STATES, DELETE, KEEP, NEVER_DUE_STATES, R_ANONYMISED, R_NOT_DUE, R_OUTSIDE_ROOT, ClipInfo, Decision,
    Policy, decide, effective_rule,
)
from anonymizer.store import artefacts as artefact_rows
from anonymizer.store import leases as lease_rows
from anonymizer.store.catalogue import Catalogue
from anonymizer.store.holds import POLICY_FINGERPRINT, all_holds, get_state, hold_info, set_state
from anonymizer.store.lock import FileLock
from anonymizer.store.serial import serialise
from anonymizer.store.schema import clips, sites

log = logging.getLogger(__name__)

UTC = timezone.utc
LOCK_NAME = ".purge.lock"
ACTOR = "purge"
#: States a purge may move to ``deleting``.
DELETABLE = ("raw", "amended", "quarantined", "deleting")


def inside(path: str, root: str) -> bool:
    """Whether ``path`` lies under ``root`` (both absolute, already normalised or resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolved_inside(uri: str, root: Path) -> bool:
    """Whether the file, every symlink resolved (the file itself and its folders), lies inside the archive root."""
    return inside(os.path.realpath(uri), os.path.realpath(root))


@dataclass
class Plan:
    now: datetime
    decisions: list[Decision]
    clips: dict[str, ClipInfo]
    uris: dict[str, str]
    holds: list[HoldInfo]
    stale_deadlines: bool = False
    stored_deadlines: dict[str, datetime | None] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # "keep:REASON" -> clips the SQL pre-filter left out

    @property
    def to_delete(self) -> list[Decision]:
        return [d for d in self.decisions if d.delete]


@dataclass
class ClipOutcome:
    clip_id: str
    uri: str
    outcome: str  # deleted | missing | failed | skipped | leased | restored | would_delete
    reason: str
    detail: str
    purge_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PurgeReport:
    now: datetime
    dry_run: bool
    plan: Plan
    outcomes: list[ClipOutcome] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    leased: list[str] = field(default_factory=list)  # due, but another command works on them: the next purge
    artefacts: list[dict[str, Any]] = field(default_factory=list)  # request artefacts deleted (or that would be)
    at_risk: list[str] = field(default_factory=list)  # originals due soon with no anonymised copy (lost for good)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {k: v for k, v in self.plan.left_out.items() if v}
        for d in self.plan.decisions:
            key = f"{d.action}:{d.reason}"
            out[key] = out.get(key, 0) + 1
        for o in self.outcomes:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return dict(sorted(out.items()))

    @property
    def exit_code(self) -> int:
        from anonymizer.errors import EXIT_OK, EXIT_PARTIAL
        return EXIT_PARTIAL if self.failures else EXIT_OK


def _utc(value: Any) -> datetime | None:
    """A timestamp read without the column type's per-value processing (a million of them are read per plan):
    SQLite hands back its text form, other databases a datetime."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


_PLAN_COLUMNS = (clips.c.id, clips.c.uri, type_coerce(clips.c.start_utc, String), type_coerce(clips.c.end_utc, String),
                 clips.c.site_id, clips.c.camera_id, clips.c.purpose, clips.c.state,
                 type_coerce(clips.c.purge_after, String), clips.c.restricted, sites.c.kind, sites.c.timezone)
#: Rows fetched from the database at a time (PostgreSQL: a server-side cursor), so memory stays bounded.
STREAM_ROWS = 20_000


def _select(*where: Any) -> Any:
    return select(*_PLAN_COLUMNS).select_from(clips.join(sites, clips.c.site_id == sites.c.id)).where(*where)


def candidates_query(now: datetime) -> Any:
    """The clips ``certainly_kept`` does not leave out, in SQL, each part an index range (state, purge_after):
    clips in a deadline state whose deadline passed or is unknown, and clips in any state that is neither a
    deadline state nor a never-due one (``deleting``, or one this version does not know), found as the ranges
    between the known states so that no part scans the table."""
    parts = [_select(clips.c.state.in_(DEADLINE_STATES), clips.c.purge_after <= now),
             _select(clips.c.state.in_(DEADLINE_STATES), clips.c.purge_after.is_(None))]
    known = sorted(NEVER_DUE_STATES + DEADLINE_STATES)
    parts.append(_select(clips.c.state < known[0]))
    parts += [_select(clips.c.state > a, clips.c.state < b) for a, b in zip(known, known[1:])]
    parts.append(_select(clips.c.state > known[-1]))
    return union_all(*parts)


def _clip_rows(conn: Connection, now: datetime | None) -> Any:
    """Every clip not yet deleted (``now`` None: a deleted clip needs no decision), or only the clips that may
    need something done at ``now`` (see ``candidates_query``); streamed, with the site's kind and time zone."""
    q = _select(clips.c.state != "deleted") if now is None else candidates_query(now)
    return conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(q)


def _count_left_out(conn: Connection, now: datetime) -> dict[str, int]:
    """How many clips the pre-filter left out, by the reason ``decide`` would give (index counts)."""
    not_due = conn.execute(select(func.count()).select_from(clips).where(
        clips.c.state.in_(DEADLINE_STATES), clips.c.purge_after > now)).scalar_one()
    anonymised = conn.execute(select(func.count()).select_from(clips).where(
        clips.c.state == "anonymised")).scalar_one()
    return {f"{KEEP}:{R_NOT_DUE}": not_due, f"{KEEP}:{R_ANONYMISED}": anonymised}


def plan(cat: Catalogue, policy: Policy, now: datetime, root: Path, every_clip: bool = False) -> Plan:
    """Read the catalogue and decide for the clips that may need something done: those ``certainly_kept`` does
    not leave out (filtered in SQL), or, with ``every_clip`` (or after a policy change, when the stored deadlines
    are stale), every clip not yet deleted. The clips left out are counted in ``Plan.left_out``. Touches no file
    except to resolve the real path of the clips that would be deleted (a symlink out of the archive root turns a
    deletion into an anomaly)."""
    prefix = os.path.normpath(os.path.abspath(root)).rstrip(os.sep) + os.sep
    with cat.engine.connect() as conn:
        stored = get_state(conn, POLICY_FINGERPRINT)
        stale = stored != policy.fingerprint()
        prefilter = not (stale or every_clip)
        if prefilter and conn.dialect.name == "postgresql":
            # The planner takes state and purge_after as independent: it expects the "no deadline" part to match a
            # tenth of the catalogue (the anonymised copies have no deadline) and would scan the table. Every part
            # is an index range (ix_clips_state_purge_after, ix_clips_undated_state): say so for this transaction.
            # The same estimate makes it compile the query (JIT), seconds for a plan that runs in milliseconds.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL jit = off")
        left_out = _count_left_out(conn, now) if prefilter else {}
        infos: list[ClipInfo] = []
        uris: dict[str, str] = {}
        stored_deadlines: dict[str, datetime | None] = {}
        append = infos.append
        for (cid, uri, start, end, site_id, camera_id, purpose, state, pa, restricted, kind,
             tz) in _clip_rows(conn, now if prefilter else None):
            pa = _utc(pa)
            if stale:
                stored_deadlines[cid] = pa
                if state != "anonymised":
                    pa = None  # computed under another policy: decide() recomputes it
            # Lexical check here (no file system access for a million clips); the clips to delete are checked
            # again below with every symlink resolved. Ingest stores absolute resolved paths; ".." is refused.
            in_root = uri.startswith(prefix) and "/.." not in uri
            append(ClipInfo(cid, _utc(start), _utc(end), site_id, kind, tz, camera_id, purpose, state, pa,
                            bool(restricted), in_root))
            uris[cid] = uri
        hold_list = [hold_info(h) for h in all_holds(conn)]
    decisions = decide(infos, hold_list, policy, now)
    by_id = {c.id: c for c in infos}
    for i, d in enumerate(decisions):
        if d.delete and not resolved_inside(uris[d.clip_id], root):
            c = by_id[d.clip_id]._replace(in_archive_root=False)
            by_id[d.clip_id] = c
            d2 = decide([c], hold_list, policy, now)[0]
            decisions[i] = d2._replace(detail=d2.detail + " (a symlink leads out of the archive root)")
    return Plan(now, decisions, by_id, uris, hold_list, stale, stored_deadlines, left_out)


def _refresh_deadlines(cat: Catalogue, p: Plan, policy: Policy) -> None:
    """Store the deadlines the current policy gives (after a policy change) and the policy's fingerprint."""
    changed: dict[str, str | None] = {}
    with cat.transaction() as conn:
        for d in p.decisions:
            c = p.clips[d.clip_id]
            if c.state in ("deleted", "anonymised") or p.stored_deadlines.get(c.id) == d.purge_after:
                continue
            conn.execute(update(clips).where(clips.c.id == c.id).values(purge_after=d.purge_after))
            changed[c.id] = _fmt(d.purge_after)
        set_state(conn, POLICY_FINGERPRINT, policy.fingerprint())
        # every new deadline is in the event: audit verify checks the catalogue's deadlines against the log
        cat.audit_append(conn, p.now, ACTOR, "retention.policy", "policy",
                         {"fingerprint": policy.fingerprint(), "policy": policy.to_mapping(),
                          "deadlines_recomputed": len(changed), "deadlines": changed})


def _fmt(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _rule_text(c: ClipInfo, policy: Policy) -> str:
    return effective_rule(c.site_kind, c.purpose, c.anonymised, policy, c.site_id, c.camera_id).explain()


def _delete_one(cat: Catalogue, d: Decision, c: ClipInfo, uri: str, root: Path, policy: Policy,
                now: datetime) -> ClipOutcome:
    resumed = c.state == "deleting"
    # Checked again with every symlink resolved, just before the catalogue and the file are touched.
    if not resolved_inside(uri, root):
        raise _Refused(f"{uri} resolves outside the archive root {root}: not deleted")
    with cat.transaction() as conn:
        # A clip another command works on (run anonymising it, a request rewriting it) is left for the next
        # purge; the lease check and the state change are one serialised transaction (store.leases).
        serialise(conn)
        lease = lease_rows.active(conn, lease_rows.wall_clock(), [c.id]).get(c.id)
        if lease is not None:
            return ClipOutcome(c.id, uri, "leased", d.reason, f"in use by {lease.text()}: not deleted now; the "
                               "next purge deletes it", _fmt(d.purge_after))
        # the state it leaves is kept (a resumed deletion keeps the one first recorded) for _restore
        res = conn.execute(update(clips).where(clips.c.id == c.id, clips.c.state.in_(DELETABLE)).values(
            state="deleting",
            deleting_from=case((clips.c.state == "deleting", clips.c.deleting_from), else_=clips.c.state)))
        report_uri = conn.execute(select(clips.c.report_uri).where(clips.c.id == c.id)).scalar()
        if res.rowcount != 1:
            return ClipOutcome(c.id, uri, "skipped", d.reason, "changed by someone else since the plan",
                               _fmt(d.purge_after))
    outcome, detail = "deleted", d.detail
    try:
        real = os.path.realpath(uri)
        # The sidecar ingest copied beside an imported clip (CLIP.json: its recording time and camera) and a
        # copy's report go too; first, so that a purge killed in between finds them when it resumes.
        for extra in (real + ".json", report_uri):
            if extra and os.path.isfile(extra) and resolved_inside(extra, root):
                os.unlink(extra)
        os.unlink(real)
        if real != uri and os.path.islink(uri):
            os.unlink(uri)
    except FileNotFoundError:
        if resumed:
            detail = "finished a deletion an interrupted purge had started"
        else:
            outcome, detail = "missing", "the file was already missing (anomaly): marked deleted"
    except OSError as exc:
        with cat.transaction() as conn:
            cat.audit_append(conn, now, ACTOR, "purge.failed", f"clip:{c.id}",
                             {"uri": uri, "error": str(exc), "purge_after": _fmt(d.purge_after)})
        return ClipOutcome(c.id, uri, "failed", d.reason, f"cannot delete: {exc}", _fmt(d.purge_after))
    with cat.transaction() as conn:
        conn.execute(update(clips).where(clips.c.id == c.id).values(state="deleted", deleting_from=None))
        cat.audit_append(conn, now, ACTOR, "purge.delete", f"clip:{c.id}", {
            "uri": uri, "outcome": outcome, "reason": d.reason, "rule": _rule_text(c, policy),
            "purge_after": _fmt(d.purge_after), "restricted": c.restricted,
        })
    return ClipOutcome(c.id, uri, outcome, d.reason, detail, _fmt(d.purge_after))


def _artefacts(cat: Catalogue, report: PurgeReport, root: Path) -> None:
    """Delete the request artefacts (review pages, exports, reports) that are due: file (or export folder) first,
    then the catalogue with its audit event, so a purge killed in between finds the file gone and records it."""
    with cat.engine.connect() as conn:
        due = artefact_rows.due(conn, report.now)
    for a in due:
        item = {"path": a.path, "kind": a.kind, "request": a.request_id, "purge_after": _fmt(a.purge_after)}
        if report.dry_run:
            report.artefacts.append({**item, "outcome": "would_delete"})
            continue
        path = Path(a.path)
        exists = os.path.lexists(path)
        if exists and not resolved_inside(a.path, root):
            report.failures.append(f"{a.kind} {a.path} of request {a.request_id}: due since {_fmt(a.purge_after)} "
                                   "but outside the archive root: delete it by hand (the next purge records it)")
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif exists:
                path.unlink()
        except OSError as exc:
            report.failures.append(f"{a.kind} {a.path} of request {a.request_id}: cannot delete ({exc})")
            continue
        with cat.transaction() as conn:
            artefact_rows.mark_deleted(conn, a.path)
            cat.audit_append(conn, report.now, ACTOR, "purge.artefact", f"request:{a.request_id}",
                             {**item, "outcome": "deleted" if exists else "missing"})
        report.artefacts.append({**item, "outcome": "deleted" if exists else "missing"})


class _Refused(Exception):
    pass


def _restore(cat: Catalogue, d: Decision, c: ClipInfo, uri: str, now: datetime) -> ClipOutcome:
    """A clip an interrupted purge had marked ``deleting`` that must now be kept (a hold came, the policy
    changed): back to the state it had (raw, amended or quarantined; ``raw`` when a purge of a version before
    migration 0008 marked it) if its file is still there, else it is gone and recorded as deleted."""
    exists = os.path.lexists(uri)
    with cat.transaction() as conn:
        before = conn.execute(select(clips.c.deleting_from).where(clips.c.id == c.id)).scalar()
        state = (before if before in DELETABLE and before != "deleting" else "raw") if exists else "deleted"
        conn.execute(update(clips).where(clips.c.id == c.id, clips.c.state == "deleting")
                     .values(state=state, deleting_from=None))
        details = {"uri": uri, "outcome": "restored" if exists else "missing", "reason": d.reason}
        if exists:
            details["state"] = state  # what audit verify expects of the clip from now on
        cat.audit_append(conn, now, ACTOR, "purge.restore" if exists else "purge.delete", f"clip:{c.id}", details)
    return ClipOutcome(c.id, uri, "restored" if exists else "missing", d.reason,
                       d.detail if exists else "interrupted deletion, file gone, now kept: marked deleted",
                       _fmt(d.purge_after))


def at_risk(cat: Catalogue, now: datetime, warn_days: int, holds: list[HoldInfo]) -> list[str]:
    """Originals due within ``warn_days`` that have no anonymised copy and no hold: after their deadline nothing
    of them is left, so R&D can hold them or get a copy made in time. One line each."""
    index = HoldIndex(holds, now)
    out = []
    for c in cat.due_without_copy(now, now + timedelta(days=warn_days)):
        if index and index.matching(c.id, c.camera_id, c.site_id, c.start, c.end):
            continue
        out.append(f"{c.id} {c.uri}: due {_fmt(c.purge_after)} (camera {c.camera_id}) and has no anonymised copy: "
                   "lost for good then; fix: run it again (anonymise), or add a hold")
    return out


def purge(cat: Catalogue, policy: Policy, now: datetime, root: Path, dry_run: bool = False,
          warn_days: int = 14, every_clip: bool = False) -> PurgeReport:
    """Plan, then (unless ``dry_run``) delete every clip that is due and not protected. See the module docstring.
    ``every_clip``: decide for every clip not yet deleted (for a listing), not only for those that may be due."""
    root = Path(root)
    if dry_run:
        p = plan(cat, policy, now, root, every_clip)
        report = PurgeReport(now, True, p)
        for d in p.to_delete:
            report.outcomes.append(ClipOutcome(d.clip_id, p.uris[d.clip_id], "would_delete", d.reason, d.detail,
                                               _fmt(d.purge_after)))
        _artefacts(cat, report, root)
        report.at_risk = at_risk(cat, now, warn_days, p.holds)
        _notes(report)
        return report
    with FileLock(root / LOCK_NAME, "purge"):
        p = plan(cat, policy, now, root, every_clip)
        report = PurgeReport(now, False, p)
        if p.stale_deadlines:
            _refresh_deadlines(cat, p, policy)
        for d in p.decisions:
            c = p.clips[d.clip_id]
            uri = p.uris[d.clip_id]
            if d.delete:
                try:
                    o = _delete_one(cat, d, c, uri, root, policy, now)
                except _Refused as exc:
                    o = ClipOutcome(c.id, uri, "failed", R_OUTSIDE_ROOT, str(exc), _fmt(d.purge_after))
                report.outcomes.append(o)
            elif c.state == "deleting" and d.action == KEEP:
                report.outcomes.append(_restore(cat, d, c, uri, now))
        _artefacts(cat, report, root)
        report.at_risk = at_risk(cat, now, warn_days, p.holds)
        _notes(report)
        return report


def _notes(report: PurgeReport) -> None:
    for o in report.outcomes:
        if o.outcome == "failed":
            report.failures.append(f"{o.clip_id} {o.uri}: {o.detail}")
        elif o.outcome == "missing":
            report.anomalies.append(f"{o.clip_id} {o.uri}: {o.detail}")
        elif o.outcome == "leased":
            report.leased.append(f"{o.clip_id} {o.uri}: {o.detail}")
    for d in report.plan.decisions:
        if d.anomaly:
            report.failures.append(f"{d.clip_id} {report.plan.uris[d.clip_id]}: due but not deleted: {d.detail}")
    for h in report.plan.holds:
        if h.overdue(report.now):
            report.warnings.append(f"hold {h.id} ({h.kind}, {h.scope} {h.target}, owner {h.owner}) is past its "
                                   f"review date {h.review.isoformat() if h.review else ''}: confirm or release it")
    for line in report.anomalies:
        log.warning("purge: %s", line)
    for line in report.warnings:
        log.warning("purge: %s", line)
    for line in report.leased:
        log.warning("purge: skipped %s", line)



def decisions_as_dicts(report: PurgeReport) -> list[dict[str, Any]]:
    p = report.plan
    return [{"clip": d.clip_id, "uri": p.uris[d.clip_id], "action": d.action, "reason": d.reason,
             "detail": d.detail, "purge_after": _fmt(d.purge_after), "holds": list(d.holds),
             "anomaly": d.anomaly} for d in p.decisions]


__all__ = ["DELETE", "KEEP", "Plan", "PurgeReport", "ClipOutcome", "plan", "purge", "decisions_as_dicts",
           "LOCK_NAME"]


def explain_clip(cat: Catalogue, policy: Policy, clip_id: str, now: datetime, root: Path) -> dict[str, Any]:
    """Which retention rule applies to one clip and why, and what a purge would do with it now."""
    with cat.engine.connect() as conn:
        row = conn.execute(select(clips.c.id, clips.c.uri, clips.c.start_utc, clips.c.end_utc, clips.c.site_id,
                                  clips.c.camera_id, clips.c.purpose, clips.c.state, clips.c.purge_after,
                                  clips.c.restricted, sites.c.kind, sites.c.timezone)
                           .select_from(clips.join(sites, clips.c.site_id == sites.c.id))
                           .where(clips.c.id == clip_id)).one()
        hold_list = [hold_info(h) for h in all_holds(conn)]
        stale = get_state(conn, POLICY_FINGERPRINT) != policy.fingerprint()
    c = ClipInfo(row.id, row.start_utc, row.end_utc, row.site_id, row.kind, row.timezone, row.camera_id,
                 row.purpose, row.state, None if stale and row.state != "anonymised" else row.purge_after,
                 bool(row.restricted), row.state == "deleted" or resolved_inside(row.uri, root))
    d = decide([c], hold_list, policy, now)[0]
    return {"rule": _rule_text(c, policy), "rule_level": effective_rule(
                c.site_kind, c.purpose, c.anonymised, policy, c.site_id, c.camera_id).level,
            "purge_after": _fmt(d.purge_after), "decision": f"{d.action}: {d.detail}", "holds": list(d.holds)}
