"""``anonymizer init ARCHIVE``: a commented starter configuration and an empty catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import click

from anonymizer.config import CONFIG_NAME, load_config, starter_config
from anonymizer.store.catalogue import DIR_MODE, FILE_MODE, Catalogue, masked_url


@click.command("init")
@click.argument("archive", type=click.Path(file_okay=False, path_type=Path))
def init(archive: Path) -> None:
    """Create the archive folder (mode 0700), ARCHIVE/anonymizer.toml (a commented starter configuration, mode
    0600; an existing one is kept) and the catalogue it names. Edit the sites and cameras, then check it with
    'anonymizer config check -c ARCHIVE/anonymizer.toml'."""
    archive.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(archive, DIR_MODE)
    path = archive / CONFIG_NAME
    if path.exists():
        click.echo(f"{path}: exists, kept", err=True)
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(starter_config())
        click.echo(f"wrote {path}")
    cfg = load_config(path)
    with Catalogue.open(cfg.catalogue_url, create=True):
        pass
    click.echo(f"catalogue {masked_url(cfg.catalogue_url)} ready")
    click.echo(f"next: edit {path} (sites, cameras), then: export ANONYMIZER_CONFIG={path.resolve()}; "
               "anonymizer run BATCH")
