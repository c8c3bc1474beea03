"""The ``anonymizer`` command: parse, call one pipeline function, render text or --json.

Library errors (AnonymizerError) become one-line messages and exit codes here, in one place.
"""

from __future__ import annotations

import logging
import sys

import click

from anonymizer import __version__
from anonymizer.cli.lines import OneLineFormatter, one_line
from anonymizer.errors import AnonymizerError


class Group(click.Group):
    """Translates library errors into one-line messages with their exit codes."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except AnonymizerError as exc:
            for line in getattr(exc, "problems", ()) or (str(exc),):  # several problems: one line each
                click.echo(one_line(f"error: {line}"), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="anonymizer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
@click.option("-q", "--quiet", is_flag=True,
              help="Only what needs a person: errors, failures and risks (for cron, which mails any output).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Anonymise recorded footage (faces, licence plates) and keep the privacy notice's promises.

    Exit codes: 0 done; 1 error; 2 usage; 3 partly done (details in the output); 75 locked, try again later.
    """
    ctx.ensure_object(dict)["quiet"] = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _register() -> None:
    # Imported here, after ``cli`` exists: the command modules import helpers from this package.
    from anonymizer.cli import (
        anonymise, audit, clips, config, demo, holds, ingest, init, models, purge, requests, run, stats,
    )

    for command in (
        models.models, anonymise.anonymise, demo.demo,                                   # the main job
        init.init, config.config_group, ingest.ingest, run.run, clips.clips, audit.audit,  # the catalogue
        holds.holds, purge.purge, stats.stats,                                           # retention
        requests.requests_group,                                                         # data-subject requests
    ):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="anonymizer")


if __name__ == "__main__":
    main()
