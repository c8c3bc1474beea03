"""Synthetic footage with known ground truth: a real face photo and a rendered licence plate moving across a real
background. Used by the demo batch and by the tests (which must make their own footage).

Images come from scikit-image's bundled data, both public domain: ``astronaut`` (NASA photograph of Eileen
Collins) and ``rocket`` (SpaceX launch photo released into the public domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

# The face in skimage's astronaut image (512x512): CenterFace's box at native size, checked by eye.
ASTRONAUT_FACE = (182, 58, 270, 178)
_FACE_CROP = (140, 20, 310, 230)  # x1, y1, x2, y2 of the sprite cut from the photo


def render_plate(text: str = "ABC1D23", width: int = 200, height: int = 60) -> np.ndarray:
    """A Mercosur-style plate (white, blue band on top, black characters), RGB."""
    plate = np.full((height, width, 3), 240, np.uint8)
    band = height // 4
    cv2.rectangle(plate, (0, 0), (width, band), (0, 60, 170), -1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(plate, "BRASIL", (width // 2 - int(width * 0.12), band - 3), font, height / 160, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.rectangle(plate, (0, 0), (width - 1, height - 1), (0, 0, 0), max(1, height // 25))
    scale = (height - band) / 32
    thick = max(2, int(height / 14))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(plate, text, ((width - tw) // 2, band + (height - band + th) // 2), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return plate


def _car(plate: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A plain car rear (RGB) carrying the plate; returns the sprite and the plate box inside it."""
    ph, pw = plate.shape[:2]
    w, h = int(pw * 2.5), int(ph * 4.3)
    car = np.zeros((h, w, 3), np.uint8)
    car[:] = (40, 40, 150)
    cv2.rectangle(car, (0, int(h * 0.46)), (w, h), (30, 30, 110), -1)
    x, y = (w - pw) // 2, int(h * 0.65) - ph // 2
    car[y : y + ph, x : x + pw] = plate
    return car, (x, y, x + pw, y + ph)


@dataclass(frozen=True)
class Sprite:
    kind: str
    image: np.ndarray
    box: tuple[int, int, int, int]  # the object (face or plate) inside the sprite

    def scaled(self, factor: float) -> "Sprite":
        h, w = self.image.shape[:2]
        nw, nh = max(1, int(round(w * factor))), max(1, int(round(h * factor)))
        image = cv2.resize(self.image, (nw, nh), interpolation=cv2.INTER_AREA)
        bx = tuple(int(round(v * factor)) for v in self.box)
        return Sprite(self.kind, image, bx)  # type: ignore[arg-type]


def face_sprite() -> Sprite:
    from skimage import data

    x1, y1, x2, y2 = _FACE_CROP
    crop = np.ascontiguousarray(data.astronaut()[y1:y2, x1:x2])
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    return Sprite("face", crop, (fx1 - x1, fy1 - y1, fx2 - x1, fy2 - y1))


def plate_sprite(text: str = "ABC1D23", plate_width: int = 200) -> Sprite:
    car, box = _car(render_plate(text, plate_width, int(plate_width * 0.3)))
    return Sprite("plate", car, box)


def background(width: int, height: int) -> np.ndarray:
    from skimage import data

    return cv2.resize(data.rocket(), (width, height), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Mover:
    sprite: Sprite
    start: tuple[float, float]  # top-left at the first frame, as fractions of the frame
    end: tuple[float, float]  # top-left at the last frame


def paste(frame: np.ndarray, sprite: Sprite, x: int, y: int) -> list[float] | None:
    """Paste a sprite with its top-left at (x, y), clipped to the frame; returns the object's visible box."""
    H, W = frame.shape[:2]
    h, w = sprite.image.shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x2 <= x1 or y2 <= y1:
        return None
    frame[y1:y2, x1:x2] = sprite.image[y1 - y : y2 - y, x1 - x : x2 - x]
    bx1, by1, bx2, by2 = sprite.box
    ox1, oy1, ox2, oy2 = max(0, x + bx1), max(0, y + by1), min(W, x + bx2), min(H, y + by2)
    if ox2 <= ox1 or oy2 <= oy1:
        return None
    return [float(ox1), float(oy1), float(ox2), float(oy2)]


def default_movers(width: int, height: int) -> list[Mover]:
    """A face crossing the upper half left to right and a car crossing the lower half the other way; they never
    overlap, so each ground-truth box is fully visible."""
    face = face_sprite().scaled(height * 0.40 / face_sprite().image.shape[0])
    plate = plate_sprite(plate_width=max(60, int(width * 0.16)))
    return [
        Mover(face, (0.08, 0.04), (0.40, 0.10)),
        Mover(plate, (0.62, 0.57), (0.30, 0.55)),
    ]


def scene_frames(
    width: int, height: int, n_frames: int, movers: list[Mover] | None = None
) -> Iterator[tuple[np.ndarray, dict[str, list[list[float]]]]]:
    """RGB frames with the movers travelling linearly, and the ground-truth boxes of every face and plate."""
    bg = background(width, height)
    movers = default_movers(width, height) if movers is None else movers
    for i in range(n_frames):
        t = i / max(1, n_frames - 1)
        frame = bg.copy()
        truth: dict[str, list[list[float]]] = {"face": [], "plate": []}
        for m in movers:
            x = int(round((m.start[0] + (m.end[0] - m.start[0]) * t) * width))
            y = int(round((m.start[1] + (m.end[1] - m.start[1]) * t) * height))
            box = paste(frame, m.sprite, x, y)
            if box is not None:
                truth[m.sprite.kind].append(box)
        yield frame, truth


def crossing_face(height: int, face_share: float = 0.14) -> Sprite:
    """The astronaut's face sprite scaled so that the face box is ``face_share`` of the frame height."""
    sprite = face_sprite()
    return sprite.scaled(face_share * height / (sprite.box[3] - sprite.box[1]))


def static_scene_frames(
    width: int, height: int, n_frames: int, visible: tuple[int, int], sprite: Sprite | None = None,
    path: tuple[tuple[float, float], tuple[float, float]] | None = None, noise: float = 2.0, seed: int = 0,
) -> Iterator[tuple[np.ndarray, dict[str, list[list[float]]]]]:
    """A fixed camera: the real background with light sensor noise (Gaussian, ``noise`` grey levels, new on
    every frame, so that two frames are never identical), and one sprite (default: the astronaut's face) on
    frames ``visible[0]`` to ``visible[1] - 1`` only, moving linearly along ``path`` (top-left at the first
    and last visible frame, fractions of the frame; default: crossing the frame left to right, from just
    outside to just outside). Ground truth as ``scene_frames``'s."""
    bg = background(width, height).astype(np.int16)
    sprite = crossing_face(height) if sprite is None else sprite
    sh, sw = sprite.image.shape[:2]
    if path is None:
        y = 0.5 - 0.5 * sh / height
        path = ((-sw / width, y), (1.0, y))
    rng = np.random.default_rng(seed)
    # A few noise fields, shifted at random on every frame: new noise everywhere for a fraction of the cost.
    bank = [np.round(rng.normal(0.0, noise, (height, width, 3))).astype(np.int16) for _ in range(4)] if noise else []
    first, end = visible
    for i in range(n_frames):
        if bank:
            field = np.roll(bank[i % len(bank)], (int(rng.integers(height)), int(rng.integers(width))), axis=(0, 1))
            frame = np.clip(bg + field, 0, 255).astype(np.uint8)
        else:
            frame = bg.astype(np.uint8)
        truth: dict[str, list[list[float]]] = {"face": [], "plate": []}
        if first <= i < end:
            t = (i - first) / max(1, end - 1 - first)
            (x0, y0), (x1, y1) = path
            box = paste(frame, sprite, int(round((x0 + (x1 - x0) * t) * width)), int(round((y0 + (y1 - y0) * t) * height)))
            if box is not None:
                truth[sprite.kind].append(box)
        yield frame, truth
