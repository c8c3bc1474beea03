"""Which ``anonymizer`` source a benchmark measures, and a way to measure a committed revision.

By default the harnesses import the working tree (whatever is checked out, uncommitted edits included) and say
so in their output. ``--ref REV`` measures a committed revision instead: ``anonymizer/`` of that revision is
exported once into ``.bench/src-<sha>/`` and the harness re-executes itself with that folder first on
``PYTHONPATH`` (the installed models are still read from the repository's ``models/``). Call ``maybe_reexec()``
before importing ``anonymizer``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACTIVE_ENV = "BENCH_ANONYMIZER_REF"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def _ref_arg(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--ref" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--ref="):
            return a.split("=", 1)[1]
    return None


def maybe_reexec(argv: list[str] | None = None) -> None:
    """Re-execute with ``anonymizer`` from the revision named by ``--ref`` (no-op without it, or once done)."""
    argv = sys.argv if argv is None else argv
    ref = _ref_arg(argv[1:])
    if ref is None or os.environ.get(ACTIVE_ENV):
        return
    sha = _git("rev-parse", "--verify", ref + "^{commit}")
    dest = REPO / ".bench" / f"src-{sha[:12]}"
    if not (dest / "anonymizer").is_dir():
        tmp = dest.with_name(dest.name + ".partial")
        tmp.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "anonymizer"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        os.replace(tmp, dest)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(dest) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("ANONYMIZER_MODELS_DIR", str(REPO / "models"))
    env[ACTIVE_ENV] = sha
    os.execve(sys.executable, [sys.executable, *argv], env)


def describe() -> dict:
    """Where the imported ``anonymizer`` comes from: a revision, or the working tree and its uncommitted edits."""
    import anonymizer

    where = str(Path(anonymizer.__file__).resolve().parent)
    ref = os.environ.get(ACTIVE_ENV)
    if ref:
        return {"source": f"committed revision {ref[:12]}", "path": where, "revision": ref, "dirty": []}
    try:
        head = _git("rev-parse", "HEAD")
        dirty = [ln[3:] for ln in _git("status", "--porcelain", "--", "anonymizer").splitlines()]
    except (subprocess.CalledProcessError, FileNotFoundError):
        head, dirty = "?", []
    state = f"working tree at {head[:12]}" + (f" + {len(dirty)} uncommitted file(s) in anonymizer/" if dirty else "")
    return {"source": state, "path": where, "revision": head, "dirty": dirty}
