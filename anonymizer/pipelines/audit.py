"""``audit verify``: the chain (store.audit), the catalogue against what the chain last recorded
(domain.audit_replay), and the archive's files against the catalogue."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from anonymizer.config import Config
from anonymizer.domain.audit_replay import compare, replay
from anonymizer.store import audit
from anonymizer.store.catalogue import Catalogue, sqlite_path

#: What SQLite keeps beside its database file.
_SQLITE_SIDE = ("", "-wal", "-shm", "-journal")


def verify(cat: Catalogue, expect: str | None = None, config: Config | None = None) -> audit.ChainReport:
    """The chain's report, with every difference between the catalogue and the replayed log added as a problem;
    with ``config``, also every file of its archive that the catalogue does not own."""
    report = cat.audit_verify(expect)
    events = ((e.action, e.object, json.loads(e.details)) for e in cat.audit_events())
    expected = replay(events)
    report.problems += compare(expected, cat.clip_states(), cat.hold_rows())
    if config is not None:
        report.problems += [f"{p}: a file in the archive that no clip or artefact owns, so no deadline deletes it; "
                            "fix: register it with 'anonymizer ingest', or delete it" for p in orphans(cat, config)]
    return report


def orphans(cat: Catalogue, config: Config) -> list[str]:
    """Files under the archive root that the catalogue does not answer for, sorted. Not counted: the configuration,
    a SQLite catalogue and its journal, and hidden files (locks, the temporary files of a command at work)."""
    root = Path(os.path.realpath(config.archive))
    own = set()
    for p in cat.owned_paths():
        own.add(p)
        own.add(os.path.realpath(p))
        # the sidecar ingest copies beside an imported clip, or found beside a clip registered in place
        own.update((p + ".json", str(Path(p).with_suffix(".json"))))
    if config.path is not None:
        own.add(os.path.realpath(config.path))
    db = sqlite_path(config.catalogue_url)
    if db is not None:
        own.update(os.path.realpath(str(db) + side) for side in _SQLITE_SIDE)
    return sorted(str(f) for f in _files(root) if not _owned(str(f), own))


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(folder) / n for n in sorted(names) if not n.startswith("."))


def _owned(path: str, own: set[str]) -> bool:
    """``path`` is owned, or lies inside an owned folder (an export)."""
    return any(p in own for p in _self_and_parents(path))


def _self_and_parents(path: str) -> Iterable[str]:
    p = Path(path)
    yield str(p)
    yield from (str(q) for q in p.parents)
