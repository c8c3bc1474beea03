"""Set-up: fetch and prepare every model of the manifest (int8 preparations calibrated on images made here)."""

from __future__ import annotations

from pathlib import Path

from anonymizer.inference.manifest import ModelSpec, load_manifest
from anonymizer.inference.prepare import fetch


def _calibration_images():
    from anonymizer.imaging.calibration import calibration_images

    return calibration_images()


def fetch_model(spec: ModelSpec, directory: Path | None = None, force: bool = False) -> Path:
    return fetch(spec, directory, force=force, calibration=_calibration_images)


def fetch_models(directory: Path | None = None, force: bool = False) -> dict[str, Path]:
    """Every model of the manifest, downloaded, checked, prepared and installed; name -> prepared file."""
    return {spec.name: fetch_model(spec, directory, force) for spec in load_manifest().values()}
