"""``anonymizer demo DIR``: build a small demo batch from public-domain images and anonymise it."""

from __future__ import annotations

from pathlib import Path

import click

from anonymizer.cli.anonymise import run_and_render
from anonymizer.pipelines.batch import plan_tasks
from anonymizer.pipelines.demo import build_demo_batch
from anonymizer.settings import AnonymiseSettings


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def demo(directory: Path, as_json: bool) -> None:
    """Build DIR/batch (clips with a real face photo and a rendered plate moving across frames; images from
    scikit-image, public domain) and anonymise it into DIR/anonymised. Needs scikit-image (the [demo] extra)."""
    batch = build_demo_batch(directory / "batch")
    out = directory / "anonymised"
    code = run_and_render(plan_tasks([batch], out), AnonymiseSettings(), overwrite=True, workers=0, as_json=as_json)
    if not as_json:
        click.echo(f"\ndemo batch:  {batch}\nanonymised:  {out} (each clip with its .report.json)")
    raise SystemExit(code)
