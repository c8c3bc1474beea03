"""Display orientation: a clip stored sideways carries a display matrix saying how to show it.

Detection, tracking geometry for the detector and the residual check work on what a viewer sees; redaction works on
the stored planes. ``rotation`` is PyAV's ``VideoFrame.rotation``: the angle, in degrees, by which the display
matrix turns the stored picture counter-clockwise; ``np.rot90(stored, quarter_turns(rotation))`` is what is shown.
"""

from __future__ import annotations

import numpy as np


def quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns from the stored picture to the displayed one (0..3)."""
    return int(round(rotation / 90.0)) % 4


def display_size(width: int, height: int, turns: int) -> tuple[int, int]:
    """(width, height) as displayed."""
    return (height, width) if turns % 2 else (width, height)


def _turn_once(xyxy: np.ndarray, width: int) -> np.ndarray:
    """Boxes on a picture ``width`` wide, after one counter-clockwise quarter turn: (x, y) -> (y, width - x)."""
    return np.stack([xyxy[:, 1], width - xyxy[:, 2], xyxy[:, 3], width - xyxy[:, 0]], axis=1)


def boxes_to_display(xyxy: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """Boxes in stored pixels -> the same boxes in displayed pixels (``width``, ``height``: stored size)."""
    out = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
    w, h = width, height
    for _ in range(turns % 4):
        out = _turn_once(out, w)
        w, h = h, w
    return out.astype(np.float32)


def boxes_to_stored(xyxy: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """Boxes in displayed pixels -> stored pixels (``width``, ``height``: stored size)."""
    turns %= 4
    dw, dh = display_size(width, height, turns)
    # Turning on by the remaining quarter turns brings the displayed picture back to the stored one.
    return boxes_to_display(xyxy, (4 - turns) % 4, dw, dh)


def to_display(image: np.ndarray, turns: int) -> np.ndarray:
    """The displayed picture of a stored (H, W[, C]) array (a view when ``turns`` is 0)."""
    return image if turns % 4 == 0 else np.ascontiguousarray(np.rot90(image, turns))


def turned_boxes(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes of a ``width`` x ``height`` picture -> the same boxes on the picture turned 180 degrees (and back)."""
    b = np.asarray(xyxy, np.float32).reshape(-1, 4)
    return np.stack([width - b[:, 2], height - b[:, 3], width - b[:, 0], height - b[:, 1]], axis=1).astype(np.float32)
