"""Figures for the access copy with everyone else redacted (issue 12): two real face photos (scikit-image's
astronaut and cameraman) move across one 640x360 clip of 30 frames; the review finds their face tracks, the export
keeps the astronaut's and redacts the rest. Prints, over every frame, the high-pass correlation of each face region
with the input (1: the input's detail; about 0: destroyed) and the kept face's mean absolute difference (grey
levels). The same clip and measure as tests/test_access_copy.py.

    PYTHONPATH=. .venv/bin/python benchmarks/access_copy.py
"""

from __future__ import annotations

import json
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from anonymizer.imaging.scene import scene_frames
from anonymizer.media.synth import write_video
from tests.test_access_copy import H, N, W, _regions, _track_of, decode_gray, detail_correlation, movers
from tests.test_ingest import CONFIG, invoke


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    arch = tmp / "archive"
    arch.mkdir()
    (arch / "anonymizer.toml").write_text(CONFIG.lstrip())
    invoke("init", str(arch))
    frames, truths = zip(*scene_frames(W, H, N, movers()))
    clip = write_video(tmp / "batch" / "door" / "two.mp4", list(frames), rate=Fraction(25))
    clip.with_name("two.mp4.json").write_text(json.dumps({"start": "2024-06-01T10:00:00Z"}))
    cfg = str(arch / "anonymizer.toml")
    invoke("ingest", str(tmp / "batch"), "-c", cfg)
    rid = json.loads(invoke("requests", "new", "-c", cfg, "--kind", "access", "--received", "2024-06-05", "--from",
                            "2024-06-01T11:59:59", "--to", "2024-06-01T12:00:05", "--place", "door",
                            "--json").stdout)["id"]
    (seg,) = json.loads(invoke("requests", "find", rid, "-c", cfg, "--json").stdout)["segments"]
    page = json.loads(invoke("requests", "review", rid, "-c", cfg, "--json").stdout)
    astro = _track_of({"page": page, "seg": seg["id"], "truths": truths}, 0)
    out = tmp / "copy"
    invoke("requests", "export", rid, "-c", cfg, "--out", str(out), "--segments", seg["id"], "--keep",
           f"{seg['id']}:{astro}", "--json")
    item = json.loads((out / "manifest.json").read_text())["segments"][0]
    exported = decode_gray(out / item["file"])
    original = decode_gray(next((arch / "raw").rglob("two.mp4")))
    kept, diff, other = [], [], []
    for i, (e, o) in enumerate(zip(exported, original)):
        k, x = (_regions(b, e.shape) for b in truths[i]["face"])
        kept.append(detail_correlation(e[k], o[k]))
        diff.append(float(np.abs(e[k] - o[k]).mean()))
        other.append(abs(detail_correlation(e[x], o[x])))
    print(json.dumps(item["redaction"]["kept_frames"]), f"face tracks found: {page['face_tracks']}")
    print(f"{len(exported)} frames: kept face detail correlation min {min(kept):.3f} mean {np.mean(kept):.3f}, "
          f"mean abs difference max {max(diff):.2f}; other face |detail correlation| max {max(other):.3f} "
          f"mean {np.mean(other):.3f}")


if __name__ == "__main__":
    main()
