"""The pure parts of the quality harness (benchmarks/, not installed): the pixel-level leak figure and the mapping of
ground-truth boxes to the stored orientation of a rotated copy."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import pixel_leak  # noqa: E402
from rotated_set import display_to_stored  # noqa: E402


def _face() -> tuple[np.ndarray, np.ndarray]:
    grey = pixel_leak.grey(data.astronaut())
    return grey, np.array([181.5, 58.2, 269.9, 177.8])  # the astronaut's face


def test_untouched_face_is_readable() -> None:
    grey, box = _face()
    res = pixel_leak.energy_ratio(grey, grey.copy(), box)
    assert res["skipped"] is None and res["ratio"] == pytest.approx(1.0) and res["readable"]


def test_blurred_face_is_not_readable() -> None:
    grey, box = _face()
    out = grey.copy()
    x1, y1, x2, y2 = (int(v) for v in box)
    out[y1:y2, x1:x2] = cv2.GaussianBlur(out[y1:y2, x1:x2], (0, 0), 8)
    res = pixel_leak.energy_ratio(grey, out, box)
    assert res["ratio"] < pixel_leak.READABLE and not res["readable"]


def test_half_blurred_core_still_leaks() -> None:
    grey, box = _face()
    out = grey.copy()
    x1, y1, x2, y2 = (int(v) for v in box)
    mid = (y1 + y2) // 2
    out[y1:mid, x1:x2] = cv2.GaussianBlur(out[y1:mid, x1:x2], (0, 0), 8)  # the mouth and chin stay sharp
    assert pixel_leak.energy_ratio(grey, out, box)["readable"]


def test_black_frame_is_skipped_as_featureless() -> None:
    rng = np.random.default_rng(0)
    black = (rng.random((240, 320)) < 0.1).astype(np.float32)  # black, one pixel in ten one grey level up
    res = pixel_leak.energy_ratio(black, np.zeros_like(black), np.array([100.0, 80.0, 160.0, 150.0]))
    assert res["skipped"] == "featureless" and not res["readable"]


@settings(max_examples=200, deadline=None)
@given(
    rotation=st.sampled_from([0, 90, 180, 270, -90]),
    ws=st.integers(2, 40), hs=st.integers(2, 40), data_=st.data(),
)
def test_display_to_stored_matches_rot90(rotation: int, ws: int, hs: int, data_: st.DataObject) -> None:
    # A box filled in the stored frame and turned by the display matrix is the box in the displayed frame.
    k = (rotation // 90) % 4
    dh, dw = np.rot90(np.zeros((hs, ws)), k).shape
    x1, x2 = sorted(data_.draw(st.lists(st.integers(0, dw), min_size=2, max_size=2)))
    y1, y2 = sorted(data_.draw(st.lists(st.integers(0, dh), min_size=2, max_size=2)))
    shown = np.zeros((dh, dw), bool)
    shown[y1:y2, x1:x2] = True
    sx1, sy1, sx2, sy2 = (int(round(v)) for v in display_to_stored([x1, y1, x2, y2], rotation, dw, dh))
    stored = np.zeros((hs, ws), bool)
    stored[sy1:sy2, sx1:sx2] = True
    assert (np.rot90(stored, k) == shown).all()


def test_unmatched_detections_are_sorted_as_the_harness_matches_them() -> None:
    from unmatched import classify

    gt = np.array([[100, 100, 200, 130], [400, 100, 500, 130]], np.float64)
    dets = np.array([
        [101, 100, 200, 131],  # matches the first plate
        [104, 101, 203, 129],  # the same plate again: a duplicate the greedy matching leaves over
        [150, 102, 198, 128],  # its right half: loose
        [400, 100, 500, 130],  # matches the second plate
        [800, 800, 900, 830],  # elsewhere
        [850, 500, 950, 530],  # on an ignore box: not counted
    ], np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    ignore = np.array([[840, 490, 960, 540]], np.float64)
    out = classify(dets, scores, gt, ignore)
    assert [what for _box, _score, what in out] == ["duplicate", "loose", "elsewhere"]
    assert [score for _box, score, _what in out] == pytest.approx([0.8, 0.7, 0.5])


def test_the_darkened_copy_keeps_the_order_of_values_and_is_darker() -> None:
    from quality import darkening

    assert (darkening(1.0, 1.0) == np.arange(256)).all()
    table = darkening(2.2, 0.5).astype(int)
    assert (np.diff(table) >= 0).all() and table[255] == 128 and (table <= np.arange(256)).all()


def test_a_clip_made_dark_keeps_its_frames_in_order(tmp_path) -> None:
    import av

    from quality import darken_video, darkening

    src = tmp_path / "src.mp4"
    with av.open(str(src), "w") as out:
        enc = out.add_stream("libx264", rate=25)
        enc.width, enc.height, enc.pix_fmt = 64, 48, "yuv420p"
        for i in range(8):  # each frame its own grey level: the order is visible after
            rgb = np.full((48, 64, 3), 60 + 20 * i, np.uint8)
            for packet in enc.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in enc.encode():
            out.mux(packet)
    dst = tmp_path / "dark" / "src.mp4"
    assert darken_video(src, dst, 2.2, 0.5) == 8 and not list(dst.parent.glob("*.partial*"))
    table = darkening(2.2, 0.5)
    with av.open(str(dst)) as c:
        means = [f.to_ndarray(format="rgb24").mean() for f in c.decode(video=0)]
    assert len(means) == 8
    assert means == pytest.approx([float(table[60 + 20 * i]) for i in range(8)], abs=3)


def test_plate_scale_table_counts_each_arrangement_per_width() -> None:
    """benchmarks/plate_scale.py: a plate counts as found by an arrangement when one of its runs scored enough."""
    import plate_scale

    rows = [
        {"w": 45.0, "p1": 0.0, "c1": 0.0, "p2": 0.5, "c2": 0.0},   # enlarged platedet only
        {"w": 45.0, "p1": 0.0, "c1": 0.3, "p2": 0.0, "c2": 0.3},   # clpdet at its own size only (0.3 < 0.4 enlarged)
        {"w": 90.0, "p1": 0.6, "c1": 0.0, "p2": 0.0, "c2": 0.0},   # platedet at its own size only
        {"w": 35.0, "p1": 0.0, "c1": 0.0, "p2": 0.0, "c2": 0.0},   # nothing
    ]
    lines = {line.split(" | ")[0].strip("| "): line for line in plate_scale.table(rows, [1.0, 2.0]).splitlines()}
    cells = lambda name: [c.strip() for c in lines[name].strip("| ").split(" | ")[1:]]  # noqa: E731
    # bins 30-40, 40-50, 50-60, 60-80, 80-100, 100-130, 130-200, then >= 40
    assert cells("plates") == ["1", "2", "0", "0", "1", "0", "0", "3"]
    assert cells("own size, both (--small-objects native)") == ["0.00", "0.50", "-", "-", "1.00", "-", "-", "0.667"]
    assert cells("2x both (clpdet 0.4)") == ["0.00", "0.50", "-", "-", "0.00", "-", "-", "0.333"]
    assert cells("2x both + clpdet own size") == ["0.00", "1.00", "-", "-", "0.00", "-", "-", "0.667"]
    assert cells("2x both + own size both (the video default before clpdet 3x)") == ["0.00", "1.00", "-", "-", "1.00", "-", "-", "1.000"]


def test_plate_scale_table_has_the_video_default_with_clpdet_at_3x() -> None:
    """benchmarks/plate_scale.py --scales 1,2,3: the video default (platedet 2x, clpdet 3x at 0.4, both at the own
    size) counts clpdet's 3x run, not its 2x run."""
    import plate_scale

    rows = [
        {"w": 45.0, "p1": 0.0, "c1": 0.0, "p2": 0.0, "c2": 0.0, "p3": 0.0, "c3": 0.5},  # clpdet 3x only
        {"w": 45.0, "p1": 0.0, "c1": 0.0, "p2": 0.0, "c2": 0.5, "p3": 0.0, "c3": 0.3},  # clpdet 2x only
    ]
    lines = {line.split(" | ")[0].strip("| "): line for line in plate_scale.table(rows, [1.0, 2.0, 3.0]).splitlines()}
    cells = lambda name: [c.strip() for c in lines[name].strip("| ").split(" | ")[1:]]  # noqa: E731
    assert cells("platedet 2x + clpdet 3x (0.4) + own size both (the video default)")[1] == "0.50"
    assert cells("2x both + own size both (the video default before clpdet 3x)")[1] == "0.50"
    assert cells("3x both (clpdet 0.4)")[1] == "0.50"
    # --second-scales 3: clpdet alone at 3x (no p3), the video default's row still made
    rows = [{k: v for k, v in r.items() if k != "p3"} for r in rows]
    lines = {line.split(" | ")[0].strip("| "): line for line in plate_scale.table(rows, [1.0, 2.0]).splitlines()}
    assert cells("platedet 2x + clpdet 3x (0.4) + own size both (the video default)")[1] == "0.50"
    assert "3x both (clpdet 0.4)" not in lines


def test_plate_scale_cascade_rows_need_an_own_size_proposal_for_an_enlarged_find() -> None:
    """benchmarks/plate_scale.py: a cascade row counts an enlarged find only where an own-size run proposed the
    plate at the row's score or more."""
    import plate_scale

    rows = [
        {"w": 45.0, "p1": 0.03, "c1": 0.0, "p2": 0.5, "c2": 0.0, "c3": 0.0},  # proposed at 0.03, found at 2x
        {"w": 45.0, "p1": 0.0, "c1": 0.0, "p2": 0.0, "c2": 0.0, "c3": 0.6},   # no proposal, found by clpdet 3x
    ]
    lines = {line.split(" | ")[0].strip("| "): line for line in plate_scale.table(rows, [1.0, 2.0]).splitlines()}
    cells = lambda name: [c.strip() for c in lines[name].strip("| ").split(" | ")[1:]]  # noqa: E731
    assert cells("platedet 2x + clpdet 3x (0.4) + own size both (the video default)")[1] == "1.00"
    assert cells("the video default, enlarged runs only around own-size proposals >= 0.02 (a cascade)")[1] == "0.50"
    assert cells("the video default, enlarged runs only around own-size proposals >= 0.05 (a cascade)")[1] == "0.00"


def test_plate_scale_table_adds_the_photo_pass_on_the_contrasted_picture() -> None:
    """benchmarks/plate_scale.py --contrasted: a plate found only on the contrast-equalised picture enlarged counts
    for the photo row (clpdet there at 0.7), not for the plain video rows."""
    import plate_scale

    plain = {"p1": 0.0, "c1": 0.0, "p2": 0.0, "c2": 0.0}
    rows = [
        {"w": 45.0, **plain, "p1k": 0.0, "c1k": 0.0, "p3k": 0.3, "c3k": 0.0},  # contrasted platedet only
        {"w": 45.0, **plain, "p1k": 0.0, "c1k": 0.0, "p3k": 0.0, "c3k": 0.6},  # contrasted clpdet under 0.7
        {"w": 90.0, **plain, "p1k": 0.0, "c1k": 0.0, "p3k": 0.0, "c3k": 0.8},  # contrasted clpdet at 0.8
    ]
    lines = {line.split(" | ")[0].strip("| "): line for line in plate_scale.table(rows, [1.0, 2.0]).splitlines()}
    cells = lambda name: [c.strip() for c in lines[name].strip("| ").split(" | ")[1:]]  # noqa: E731
    assert cells("2x both + own size both (the video default before clpdet 3x)")[-1] == "0.000"
    assert cells("photos: the 2x default + contrasted 3x both (clpdet 0.7)") == [
        "-", "0.50", "-", "-", "1.00", "-", "-", "0.667"]
    assert cells("contrasted 3x both (clpdet 0.4) + own size both")[-1] == "1.000"


def test_contrast_sweep_scores_each_threshold_pair_as_the_harness_does() -> None:
    """benchmarks/contrast_sweep.py: a plate only the contrasted pass finds is covered at a low enough platedet
    threshold and not above it; a false box of clpdet lowers precision only when clpdet's threshold admits it."""
    import contrast_sweep
    import quality
    from anonymizer.domain.detections import Detections
    from anonymizer.settings import AnonymiseSettings

    gt = np.array([[100.0, 100.0, 160.0, 115.0]])
    row = quality.Row(index=0, kind="plate", boxes=gt, ignore=np.zeros((0, 4)), image="a.jpg")
    image = {"rows": [row], "w": 640, "h": 360, "base": Detections.empty(),
             "p": Detections(np.array([[101.0, 100.0, 160.0, 116.0]], np.float32), np.array([0.35], np.float32)),
             "c": Detections(np.array([[400.0, 200.0, 460.0, 215.0]], np.float32), np.array([0.75], np.float32))}
    settings_ = AnonymiseSettings()

    def figures(tp, tc):
        f = contrast_sweep.score([image], settings_, tp, tc).figures()
        return f["by_size"]["plate >=40"]["covered"], f["detections"], f["true_positives"]

    assert figures(None, None) == (0, 0, 0)  # off: nothing found
    assert figures(0.3, 0.8) == (1, 1, 1)  # platedet's box kept, clpdet's false one not
    assert figures(0.3, 0.7) == (1, 2, 1)  # both kept: precision 1/2
    assert figures(0.4, 0.8) == (0, 0, 0)  # platedet's box under the threshold
