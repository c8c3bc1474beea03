"""``anonymizer config check``, and the --config option every catalogue command shares."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any, Callable

import click

from anonymizer.config import CONFIG_NAME, Config, load_config
from anonymizer.store.catalogue import masked_url

CONFIG_ENV = "ANONYMIZER_CONFIG"


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-c", "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=CONFIG_NAME,
        envvar=CONFIG_ENV, show_default=True,
        help=f"Configuration file (or ${CONFIG_ENV}); 'anonymizer init ARCHIVE' writes ARCHIVE/{CONFIG_NAME}.",
    )(func)


def actor() -> str:
    """Who acts, for the audit log: the login name of the user running the command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def describe(cfg: Config) -> dict[str, Any]:
    return {
        "config": str(cfg.path),
        "archive": str(cfg.archive),
        "catalogue": masked_url(cfg.catalogue_url),
        "sites": {s.id: {"name": s.name, "kind": s.kind, "timezone": s.timezone} for s in cfg.sites.values()},
        "cameras": {c.id: {"site": c.site, "purpose": c.purpose, "clock": c.clock} for c in cfg.cameras.values()},
    }


@click.group("config")
def config_group() -> None:
    """Check the configuration file."""


@config_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the checked configuration as JSON.")
def check(config_path: Path, as_json: bool) -> None:
    """Validate a configuration file; every problem is named with its key and what was expected (exit 2)."""
    cfg = load_config(config_path)
    if as_json:
        click.echo(json.dumps(describe(cfg), indent=2))
        return
    click.echo(f"{config_path}: ok: archive {cfg.archive}, catalogue {masked_url(cfg.catalogue_url)}, "
               f"{len(cfg.sites)} sites, {len(cfg.cameras)} cameras")
