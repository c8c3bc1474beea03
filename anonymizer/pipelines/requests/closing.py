"""``requests close``: close the request, then write its final report (a report written before says "open")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anonymizer.config import Config
from anonymizer.pipelines.requests import records
from anonymizer.pipelines.requests.report import report
from anonymizer.store.catalogue import Catalogue


def close(cat: Catalogue, config: Config, request_id: str, *, now: datetime, actor: str, note: str = "",
          artefact_days: int = 30) -> dict[str, Any]:
    """Close a request (refused while a selected segment is unhandled) and write the final report.json and
    report.html into the request's folder, replacing a draft written while it was open. The request's artefacts
    are due ``artefact_days`` later (the final report too). ``originals_outside``: the batch originals a removal
    left outside the archive that are still there (the report names them too)."""
    out = records.close(cat, request_id, now=now, actor=actor, note=note, artefact_days=artefact_days,
                        config=config)
    written = report(cat, config, request_id, now=now, actor=actor)
    out["report"] = {"json": written["json"], "html": written["html"]}
    out["originals_outside"] = [o["path"] for o in written["originals_outside"] if o["exists"]]
    return out
