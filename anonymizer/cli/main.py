"""The ``anonymizer`` command: parse, call one pipeline function, render text or --json.

Library errors (AnonymizerError) become one-line messages and exit codes here, in one place.
"""

from __future__ import annotations

import logging
import sys

import click

from anonymizer import __version__
from anonymizer.errors import AnonymizerError


class Group(click.Group):
    """Translates library errors into one-line messages with their exit codes."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except AnonymizerError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="anonymizer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Anonymise recorded footage (faces, licence plates) and keep the privacy notice's promises.

    Exit codes: 0 done; 1 error; 2 usage; 3 partly done (details in the output); 75 locked, try again later.
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)


def _register() -> None:
    from anonymizer.cli import anonymise as anonymise_cmd
    from anonymizer.cli import demo as demo_cmd
    from anonymizer.cli import models as models_cmd

    cli.add_command(models_cmd.models)
    cli.add_command(anonymise_cmd.anonymise)
    cli.add_command(demo_cmd.demo)

    from anonymizer.cli import audit as audit_cmd
    from anonymizer.cli import clips as clips_cmd
    from anonymizer.cli import config as config_cmd
    from anonymizer.cli import ingest as ingest_cmd
    from anonymizer.cli import init as init_cmd
    from anonymizer.cli import run as run_cmd

    cli.add_command(init_cmd.init)
    cli.add_command(config_cmd.config_group)
    cli.add_command(ingest_cmd.ingest)
    cli.add_command(run_cmd.run)
    cli.add_command(clips_cmd.clips)
    cli.add_command(audit_cmd.audit)

    from anonymizer.cli import holds as holds_cmd
    from anonymizer.cli import purge as purge_cmd
    from anonymizer.cli import stats as stats_cmd

    cli.add_command(holds_cmd.holds)
    cli.add_command(purge_cmd.purge)
    cli.add_command(stats_cmd.stats)

    from anonymizer.cli import requests as requests_cmd

    cli.add_command(requests_cmd.requests_group)


_register()


def main() -> None:
    cli(prog_name="anonymizer")


if __name__ == "__main__":
    main()
