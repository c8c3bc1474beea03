"""The model manifest (models/manifest.toml) and the local model directory.

This module reads files but imports no runtime: ``models list`` and ``models verify`` work without onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from anonymizer.errors import ModelError

MODELS_DIR_ENV = "ANONYMIZER_MODELS_DIR"
_REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def models_dir() -> Path:
    """Where the weights live: ``$ANONYMIZER_MODELS_DIR`` or the project's ``models/`` folder."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env) if env else _REPO_MODELS


def manifest_path() -> Path:
    local = models_dir() / "manifest.toml"
    return local if local.exists() else _REPO_MODELS / "manifest.toml"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    package: str
    member: str
    sha256: str
    licence: str
    prepare: str
    threshold: float
    input: str = ""
    card: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"


_REQUIRED = {"kind", "package", "member", "sha256", "licence", "prepare", "threshold"}
_ALLOWED = _REQUIRED | {"input", "card"}


def load_manifest(path: Path | None = None) -> dict[str, ModelSpec]:
    path = path or manifest_path()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model manifest: {exc}") from exc
    specs: dict[str, ModelSpec] = {}
    for name, entry in data.get("models", {}).items():
        unknown = set(entry) - _ALLOWED
        missing = _REQUIRED - set(entry)
        if unknown or missing:
            raise ModelError(
                f"{path}: model {name!r}: "
                + (f"unknown keys {sorted(unknown)} " if unknown else "")
                + (f"missing keys {sorted(missing)}" if missing else "")
            )
        specs[name] = ModelSpec(name=name, **entry)
    return specs


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_path(spec: ModelSpec, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / f"{spec.name}.lock.json"


@dataclass(frozen=True)
class InstalledModel:
    spec: ModelSpec
    path: Path
    sha256: str  # of the prepared file, as recorded at fetch time


COMMITTED = "committed"  # ``prepare`` of a model trained here: its file is in the repository, ``member`` names it


def committed_path(spec: ModelSpec) -> Path:
    """Where a model trained by the project lives: in ``$ANONYMIZER_MODELS_DIR`` when a copy is there, else in the
    repository's ``models/`` folder."""
    local = models_dir() / spec.member
    return local if local.exists() else _REPO_MODELS / spec.member


def installed(spec: ModelSpec, directory: Path | None = None, check: bool = True) -> InstalledModel:
    """The prepared model file, checked against the sha256 recorded at fetch time (a committed model: against the
    manifest's own sha256).

    Raises ModelError telling the user to run ``anonymizer models fetch`` when it is missing or corrupt.
    """
    if spec.prepare == COMMITTED:
        path = committed_path(spec)
        if not path.exists():
            raise ModelError(f"{path}: model {spec.name!r} is missing from this checkout (it is committed to the "
                             "repository: restore it with git)")
        if check and (actual := sha256_file(path)) != spec.sha256:
            raise ModelError(f"{path}: sha256 {actual[:12]}... does not match the manifest's {spec.sha256[:12]}... "
                             "(changed or corrupt; restore it with git, or retrain and update the manifest)")
        return InstalledModel(spec, path, spec.sha256)
    directory = directory or models_dir()
    path = directory / spec.filename
    lock = lock_path(spec, directory)
    hint = "run `anonymizer models fetch`"
    if not path.exists() or not lock.exists():
        raise ModelError(f"{path}: model {spec.name!r} is not installed; {hint}")
    try:
        record = json.loads(lock.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{lock}: unreadable lock file ({exc}); {hint}") from exc
    if record.get("source_sha256") != spec.sha256 or record.get("prepare") != spec.prepare:
        raise ModelError(f"{path}: prepared from a different source than the manifest names; {hint}")
    if check:
        actual = sha256_file(path)
        if actual != record.get("prepared_sha256"):
            raise ModelError(f"{path}: sha256 {actual[:12]}... does not match the fetched model (corrupt); {hint}")
    return InstalledModel(spec, path, record["prepared_sha256"])
