"""Training pictures for the project's own plate detector: plates drawn here, composited onto real scenes.

Pure numpy and OpenCV (no training framework): ``sample(rng, backgrounds, size)`` returns one square RGB picture and
the axis-aligned boxes of the plates drawn on it, at the size the detector runs at (plates 14-260 px wide in a
256 px picture, as in a frame at its own size). What a plate looks like:

- layouts of the footage the team records: EU (blue band, several countries' spacing), UK (white front, yellow
  rear), US (light, coloured text, a state line), Brazilian (Mercosul band, old grey), two-line square plates;
- characters in OpenCV's Hershey fonts (part of OpenCV, Apache-2.0), random strings;
- on a car-coloured panel most of the time (the bumper and tail lights around a plate are half of what says
  "plate" at 40 px), perspective (oblique views), rotation, scale;
- day, dusk and night (a dark scene, the plate lit or not), motion and focus blur, sensor noise, JPEG/H.264-like
  compression, colour casts;
- hard negatives, without a box: text that is not a plate (signs, labels), and a street's clutter: lane dashes,
  zebra crossings, paving joints, rows of windows, railings.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import cv2
import numpy as np

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_PLAIN)
PLATE_WIDTHS = (14.0, 260.0)  # drawn widths in picture pixels, log-uniform with more mass on small ones
RENDER_H = 96  # plates are drawn at this height, then warped down to their size


@dataclass(frozen=True)
class Layout:
    name: str
    aspect: float  # width / height
    colours: tuple[tuple[int, int, int], ...]  # plate backgrounds (RGB)
    ink: tuple[tuple[int, int, int], ...]
    band: str = ""  # "left" (EU), "top" (Mercosul)
    rows: int = 1
    weight: float = 1.0


LAYOUTS = (
    Layout("eu", 4.7, ((245, 245, 240), (250, 250, 250), (235, 235, 225)), ((15, 15, 15),), "left", weight=3.0),
    Layout("eu_yellow", 4.7, ((250, 205, 20), (245, 190, 30)), ((15, 15, 15),), "left"),
    Layout("uk", 4.7, ((245, 245, 240), (250, 210, 25)), ((10, 10, 10),), weight=1.5),
    Layout("us", 2.0, ((240, 240, 235), (225, 235, 245), (245, 240, 220), (235, 245, 235), (200, 220, 235),
                       (215, 215, 215)),
           ((20, 40, 120), (150, 20, 20), (20, 20, 20), (20, 90, 40)), weight=2.0),
    Layout("br_mercosul", 3.1, ((245, 245, 245),), ((15, 15, 15),), "top", weight=1.5),
    Layout("br_old", 3.1, ((175, 175, 170), (210, 210, 205), (220, 185, 30)), ((20, 20, 20),)),
    Layout("square", 1.45, ((245, 245, 240), (250, 205, 20)), ((15, 15, 15),), rows=2, weight=0.7),
    Layout("dark", 4.0, ((25, 25, 25), (20, 40, 90)), ((235, 235, 235),), weight=0.4),
)
_WEIGHTS = np.array([layout.weight for layout in LAYOUTS]) / sum(layout.weight for layout in LAYOUTS)
CAR_COLOURS = ((200, 200, 205), (30, 30, 35), (120, 120, 125), (150, 20, 25), (20, 40, 110), (230, 230, 230),
               (90, 95, 100), (60, 80, 60), (170, 150, 120))


def _text(rng: np.random.Generator, layout: Layout) -> list[str]:
    letters, digits = string.ascii_uppercase, string.digits

    def pick(pool: str, n: int) -> str:
        return "".join(pool[i] for i in rng.integers(0, len(pool), n))

    if layout.rows == 2:
        return [pick(letters, int(rng.integers(2, 4))), pick(digits, int(rng.integers(3, 5)))]
    pattern = rng.integers(0, 4)
    if pattern == 0:
        return [f"{pick(letters, 2)} {pick(digits, 2)} {pick(letters, 3)}"]
    if pattern == 1:
        return [f"{pick(letters, 3)}{pick(digits, 1)}{pick(letters, 1)}{pick(digits, 2)}"]
    if pattern == 2:
        return [f"{pick(digits, 1)}{pick(letters, 3)}{pick(digits, 3)}"]
    return [f"{pick(letters, int(rng.integers(1, 3)))}-{pick(letters, 2)} {pick(digits, int(rng.integers(2, 5)))}"]


def _put_line(img: np.ndarray, text: str, box: tuple[int, int, int, int], ink: tuple[int, int, int],
              font: int, thick: int) -> None:
    """Draw ``text`` filling ``box`` (x1, y1, x2, y2) of ``img``, stretched to its width."""
    x1, y1, x2, y2 = box
    (tw, th), base = cv2.getTextSize(text, font, 1.0, thick)
    canvas = np.zeros((th + base + 4 * thick, tw + 4 * thick), np.uint8)
    cv2.putText(canvas, text, (2 * thick, th + 2 * thick), font, 1.0, 255, thick, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    if len(xs) == 0:
        return
    canvas = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    mask = cv2.resize(canvas, (max(1, x2 - x1), max(1, y2 - y1)), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    region = img[y1:y2, x1:x2].astype(np.float32)
    img[y1:y2, x1:x2] = (region * (1 - mask[..., None]) + np.array(ink, np.float32) * mask[..., None]).astype(np.uint8)


def render_plate(rng: np.random.Generator, height: int = RENDER_H) -> np.ndarray:
    """One plate, front view, ``height`` pixels tall: RGB."""
    layout = LAYOUTS[int(rng.choice(len(LAYOUTS), p=_WEIGHTS))]
    h = height
    w = int(round(h * layout.aspect * rng.uniform(0.93, 1.07)))
    colour = np.array(layout.colours[int(rng.integers(len(layout.colours)))], np.float32)
    colour = np.clip(colour + rng.normal(0, 8, 3), 0, 255)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = colour.astype(np.uint8)
    if layout.name == "us" and rng.random() < 0.5:  # a picture or gradient across US plates
        ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        tint = np.clip(colour + rng.normal(0, 40, 3), 0, 255)
        img = (img * (1 - 0.5 * ramp) + tint * 0.5 * ramp).astype(np.uint8)
    ink = layout.ink[int(rng.integers(len(layout.ink)))]
    if rng.random() < 0.2:  # faded or low-contrast characters
        ink = tuple(int(c + (v - c) * rng.uniform(0.2, 0.5)) for c, v in zip(ink, colour))
    font = FONTS[int(rng.integers(len(FONTS)))]
    thick = int(rng.integers(2, 5))
    margin = rng.uniform(0.1, 0.24)  # characters fill 52-80 % of the height
    left, top = int(0.05 * w), int(margin * h)
    right, bottom = w - int(0.04 * w), h - int(margin * h)
    if layout.band == "left":
        bw = int(0.085 * w)
        img[:, :bw] = (20, 50, 160)
        cv2.circle(img, (bw // 2, int(0.3 * h)), max(2, bw // 4), (230, 200, 30), 2)
        _put_line(img, "".join(rng.choice(list("DFIRLBNP"), int(rng.integers(1, 3)))),
                  (int(0.015 * w), int(0.6 * h), bw - int(0.015 * w), int(0.88 * h)), (245, 245, 245), font, 2)
        left = bw + int(0.03 * w)
    elif layout.band == "top":
        img[: int(0.2 * h)] = (25, 60, 170)
        top = int(0.27 * h)
    if layout.name == "us":  # the state's name, small, above the characters
        state = "".join(rng.choice(list(string.ascii_uppercase), int(rng.integers(4, 10))))
        _put_line(img, state, (int(0.25 * w), int(0.05 * h), int(0.75 * w), int(0.2 * h)), ink, font, 2)
        top, bottom = int(0.26 * h), int(0.8 * h)
        if rng.random() < 0.5:  # a slogan or county line under the characters
            _put_line(img, "".join(rng.choice(list(string.ascii_lowercase), int(rng.integers(6, 14)))),
                      (int(0.2 * w), int(0.84 * h), int(0.8 * w), int(0.95 * h)), ink, font, 1)
    lines = _text(rng, layout)
    line_h = (bottom - top) // len(lines)
    for i, line in enumerate(lines):
        _put_line(img, line, (left, top + i * line_h + int(0.05 * line_h), right, top + (i + 1) * line_h), ink,
                  font, thick)
    if rng.random() < 0.8:  # border or frame
        edge = tuple(int(c) for c in (ink if rng.random() < 0.6 else (40, 40, 40)))
        cv2.rectangle(img, (1, 1), (w - 2, h - 2), edge, int(rng.integers(1, 5)))
    return img


def _car_panel(rng: np.random.Generator, pw: int, ph: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A car's rear or front around a plate ``pw`` x ``ph`` (render pixels): panel RGB and the plate's offset."""
    W = int(pw * rng.uniform(2.2, 4.5))
    H = int(ph * rng.uniform(3.0, 7.0))
    colour = np.array(CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))], np.float32) + rng.normal(0, 10, 3)
    panel = np.empty((H, W, 3), np.float32)
    shade = np.linspace(rng.uniform(0.7, 1.1), rng.uniform(0.6, 1.0), H, dtype=np.float32)[:, None, None]
    panel[:] = np.clip(colour, 0, 255)
    panel *= shade
    px, py = (W - pw) // 2 + int(rng.integers(-pw // 8, pw // 8 + 1)), int(H * rng.uniform(0.45, 0.7))
    py = min(py, H - ph - 2)
    if rng.random() < 0.7:  # tail or head lights
        light = (200, 30, 30) if rng.random() < 0.6 else (235, 235, 220)
        lw, lh = int(W * rng.uniform(0.12, 0.22)), int(ph * rng.uniform(0.6, 1.5))
        ly = max(0, py - int(ph * rng.uniform(1.0, 2.5)))
        cv2.rectangle(panel, (2, ly), (2 + lw, ly + lh), light, -1)
        cv2.rectangle(panel, (W - 3 - lw, ly), (W - 3, ly + lh), light, -1)
    if rng.random() < 0.6:  # bumper line, recess
        by = min(H - 2, py + ph + int(ph * rng.uniform(0.2, 0.8)))
        cv2.rectangle(panel, (0, by), (W, min(H, by + max(2, ph // 3))), (25, 25, 25), -1)
        cv2.rectangle(panel, (px - 4, py - 4), (px + pw + 4, py + ph + 4), tuple(float(c) * 0.5 for c in colour), -1)
    if rng.random() < 0.5:  # chrome or dark trim across the car above the plate, an emblem
        ty = max(0, py - int(ph * rng.uniform(0.3, 1.2)))
        trim = (210, 210, 215) if rng.random() < 0.5 else (20, 20, 20)
        cv2.rectangle(panel, (int(W * 0.1), ty), (int(W * 0.9), ty + max(2, ph // 6)), trim, -1)
        if rng.random() < 0.6:
            cv2.ellipse(panel, (W // 2, max(0, ty - ph // 2)), (max(2, pw // 10), max(2, ph // 5)), 0, 0, 360,
                        (200, 200, 205), max(1, ph // 20))
    if rng.random() < 0.3:  # the rear window or the grille
        cv2.rectangle(panel, (int(W * 0.15), 0), (int(W * 0.85), int(H * rng.uniform(0.1, 0.3))),
                      (30, 35, 40) if rng.random() < 0.5 else (90, 90, 95), -1)
    return np.clip(panel, 0, 255).astype(np.uint8), (px, py)


def _warp(rgb: np.ndarray, width: float, rng: np.random.Generator,
          quad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rgb`` scaled so that ``quad`` (its plate's corners, render pixels) is ``width`` wide, turned and seen
    obliquely: the warped picture, its alpha and the plate's new corners."""
    h, w = rgb.shape[:2]
    scale = width / float(quad[1, 0] - quad[0, 0])
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src * scale
    yaw = rng.uniform(-0.35, 0.35)  # horizontal foreshortening of one side (oblique view)
    pitch = rng.uniform(-0.1, 0.1)
    dst[1, 1] += yaw * dst[2, 1] * 0.3
    dst[2, 1] -= yaw * dst[2, 1] * 0.3
    dst[0, 0] += pitch * dst[1, 0]
    dst[1, 0] -= pitch * dst[1, 0]
    angle = math.radians(rng.normal(0, 4))
    c, s = math.cos(angle), math.sin(angle)
    centre = dst.mean(axis=0)
    dst = (dst - centre) @ np.array([[c, s], [-s, c]], np.float32) + centre
    dst[:, 0] *= rng.uniform(0.85, 1.15) if rng.random() < 0.3 else 1.0
    dst -= dst.min(axis=0)
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out_w, out_h = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
    small = scale < 0.5
    if small:  # warp at 4x, then area-downscale: a small plate keeps the look of a camera's, not of aliasing
        up = np.diag([4.0, 4.0, 1.0]).astype(np.float32)
        big = cv2.warpPerspective(rgb, up @ M, (out_w * 4, out_h * 4), flags=cv2.INTER_AREA)
        alpha = cv2.warpPerspective(np.full((h, w), 255, np.uint8), up @ M, (out_w * 4, out_h * 4), flags=cv2.INTER_AREA)
        warped = cv2.resize(big, (out_w, out_h), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (out_w, out_h), interpolation=cv2.INTER_AREA)
    else:
        warped = cv2.warpPerspective(rgb, M, (out_w, out_h), flags=cv2.INTER_AREA)
        alpha = cv2.warpPerspective(np.full((h, w), 255, np.uint8), M, (out_w, out_h), flags=cv2.INTER_LINEAR)
    corners = cv2.perspectiveTransform(quad.reshape(-1, 1, 2).astype(np.float32), M).reshape(-1, 2)
    return warped, alpha, corners


def _paste(canvas: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    H, W = canvas.shape[:2]
    h, w = patch.shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x2 <= x1 or y2 <= y1:
        return
    p = patch[y1 - y : y2 - y, x1 - x : x2 - x].astype(np.float32)
    a = alpha[y1 - y : y2 - y, x1 - x : x2 - x, None].astype(np.float32) / 255
    region = canvas[y1:y2, x1:x2].astype(np.float32)
    canvas[y1:y2, x1:x2] = (region * (1 - a) + p * a).astype(np.uint8)


def background(rng: np.random.Generator, backgrounds: list[np.ndarray], size: int) -> np.ndarray:
    """A ``size`` square cut from one of ``backgrounds`` at a random scale (or, without any, a made-up scene)."""
    if not backgrounds or rng.random() < 0.08:
        img = np.empty((size, size, 3), np.uint8)
        img[:] = rng.integers(30, 220, 3)
        for _ in range(int(rng.integers(3, 12))):
            x1, y1 = (int(v) for v in rng.integers(-size // 4, size, 2))
            cv2.rectangle(img, (x1, y1), (x1 + int(rng.integers(8, size)), y1 + int(rng.integers(8, size))),
                          tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3))
    src = backgrounds[int(rng.integers(len(backgrounds)))]
    h, w = src.shape[:2]
    scale = rng.uniform(max(size / w, size / h, 0.35), 2.0)
    cw, ch = min(w, int(size / scale) + 1), min(h, int(size / scale) + 1)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = cv2.resize(src[y : y + ch, x : x + cw], (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def _plate_width(rng: np.random.Generator) -> float:
    lo, hi = PLATE_WIDTHS
    if rng.random() < 0.5:  # the small ones (under 90 px) are what the detector is for
        hi = 90.0
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _negative(rng: np.random.Generator, canvas: np.ndarray) -> None:
    """A sign or label that is not a plate: text on a coloured board, wider or taller than plates are."""
    size = canvas.shape[0]
    w = int(rng.uniform(20, size * 0.8))
    h = int(w / rng.uniform(0.4, 8.0))
    board = np.empty((max(h, 6), w, 3), np.uint8)
    board[:] = rng.integers(0, 255, 3)
    text = "".join(rng.choice(list(string.ascii_letters + " "), int(rng.integers(3, 14))))
    _put_line(board, text, (1, 1, w - 1, board.shape[0] - 1), tuple(int(c) for c in rng.integers(0, 255, 3)),
              FONTS[int(rng.integers(len(FONTS)))], int(rng.integers(1, 4)))
    _paste(canvas, board, np.full(board.shape[:2], 255, np.uint8), int(rng.integers(-w // 2, size)),
           int(rng.integers(-h // 2, size)))


def _clutter(rng: np.random.Generator, canvas: np.ndarray) -> None:
    """Things of a street that are not plates, over part of the picture: lane dashes and arrows on asphalt, a
    zebra crossing, paving joints, a facade's windows, railings."""
    size = canvas.shape[0]
    layer = np.empty_like(canvas)
    kind = rng.integers(0, 4)
    grey = int(rng.integers(60, 200))
    layer[:] = grey
    layer = np.clip(layer + rng.normal(0, rng.uniform(3, 15), layer.shape), 0, 255).astype(np.uint8)
    paint = tuple(int(c) for c in ((240, 240, 240) if rng.random() < 0.8 else (230, 200, 40)))
    if kind == 0:  # lane dashes, seen in perspective, and the odd arrow
        for _ in range(int(rng.integers(2, 7))):
            x, y = int(rng.integers(0, size)), int(rng.integers(0, size))
            w, h = int(rng.integers(3, 30)), int(rng.integers(2, 14))
            if rng.random() < 0.5:
                w, h = h, w * 3
            cv2.rectangle(layer, (x, y), (x + w, y + h), paint, -1)
    elif kind == 1:  # paving or tiles: joints on a grid
        step = int(rng.integers(8, 40))
        for v in range(int(rng.integers(0, step)), size, step):
            cv2.line(layer, (v, 0), (v, size), (grey - 40,) * 3, 1)
            cv2.line(layer, (0, v), (size, v), (grey - 40,) * 3, 1)
    elif kind == 2:  # a facade: rows of windows
        wx, wy = int(rng.integers(6, 30)), int(rng.integers(6, 30))
        for y in range(0, size, int(wy * rng.uniform(1.5, 2.5))):
            for x in range(0, size, int(wx * rng.uniform(1.3, 2.5))):
                cv2.rectangle(layer, (x, y), (x + wx, y + wy), tuple(int(c) for c in rng.integers(20, 120, 3)), -1)
    else:  # zebra crossing or railings: parallel bars
        step = int(rng.integers(6, 30))
        vertical = rng.random() < 0.5
        for v in range(0, size, step):
            a, b = (v, 0), (v + step // 2, size)
            if not vertical:
                a, b = (0, v), (size, v + step // 3)
            cv2.rectangle(layer, a, b, paint, -1)
    M = cv2.getRotationMatrix2D((size / 2, size / 2), float(rng.uniform(-40, 40)), float(rng.uniform(0.6, 1.4)))
    layer = cv2.warpAffine(layer, M, (size, size), borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((size, size), np.uint8)
    x1, y1 = (int(v) for v in rng.integers(0, size // 2, 2))
    cv2.rectangle(mask, (x1, y1), (x1 + int(rng.integers(size // 4, size)), y1 + int(rng.integers(size // 4, size))), 255, -1)
    _paste(canvas, layer, mask, 0, 0)


def _photometric(rng: np.random.Generator, img: np.ndarray, lit: np.ndarray) -> np.ndarray:
    """Light, optics and compression over the whole picture; ``lit`` (H, W) 0..1: where plates are, which a
    plate lamp may keep brighter than the scene at night."""
    out = img.astype(np.float32)
    mode = rng.random()
    if mode < 0.2:  # night or dusk: dark scene, plates lit by their lamp or not, tail lights glowing
        dark = rng.uniform(0.06, 0.4)
        lamp = dark if rng.random() < 0.4 else rng.uniform(dark, 0.9)
        gain = dark + (lamp - dark) * lit[..., None]
        out *= gain
        if rng.random() < 0.5:
            glow = cv2.GaussianBlur(lit, (0, 0), rng.uniform(4, 12)) * rng.uniform(40, 160)
            out += glow[..., None] * np.array([1.0, 0.15, 0.25], np.float32)
    elif mode < 0.35:  # over-exposed or hazy
        out = out * rng.uniform(0.6, 0.9) + rng.uniform(40, 110)
    out = out * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 10)
    gamma = rng.uniform(0.7, 1.4)
    out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** gamma
    img = np.clip(out, 0, 255).astype(np.uint8)
    blur = rng.random()
    if blur < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.3))
    elif blur < 0.4:  # motion blur along a random direction
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.5:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 10), img.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 95))])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


def sample(rng: np.random.Generator, backgrounds: list[np.ndarray], size: int = 256,
           plates: tuple[int, int] = (0, 5)) -> tuple[np.ndarray, np.ndarray]:
    """One training picture: (``size`` x ``size`` RGB uint8, plate boxes (N, 4) float32 x1, y1, x2, y2)."""
    canvas = background(rng, backgrounds, size)
    if rng.random() < 0.35:
        _clutter(rng, canvas)
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 4))):
            _negative(rng, canvas)
    boxes: list[np.ndarray] = []
    patches: list[np.ndarray] = []
    lit = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(plates[0], plates[1] + 1))):
        width = min(_plate_width(rng), 0.8 * size)
        plate = render_plate(rng, int(np.clip(width * 0.6, 24, RENDER_H)))  # about twice the drawn height
        ph, pw = plate.shape[:2]
        if rng.random() < 0.75:
            panel, (px, py) = _car_panel(rng, pw, ph)
            panel[py : py + ph, px : px + pw] = plate
            quad = np.array([[px, py], [px + pw, py], [px + pw, py + ph], [px, py + ph]], np.float32)
            patch = panel
        else:
            quad = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
            patch = plate
        warped, alpha, corners = _warp(patch, width, rng, quad)
        box = np.array([corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()])
        bw, bh = box[2] - box[0], box[3] - box[1]
        # Where the plate lands: inside the picture, mostly; a little cut off at an edge sometimes.
        x = int(rng.uniform(-box[0] - 0.2 * bw, size - box[2] + 0.2 * bw))
        y = int(rng.uniform(-box[1] - 0.2 * bh, size - box[3] + 0.2 * bh))
        moved = box + np.array([x, y, x, y])
        extent = np.array([x, y, x + warped.shape[1], y + warped.shape[0]], np.float64)
        if any(_iou(extent, other) > 0.0 for other in patches):
            continue  # patches never overlap: no plate is hidden under a later car
        _paste(canvas, warped, alpha, x, y)
        x1, y1, x2, y2 = (int(round(v)) for v in np.clip(moved, 0, size))
        lit[y1:y2, x1:x2] = 1.0
        patches.append(extent)
        boxes.append(moved)
    picture = _photometric(rng, canvas, lit)
    out = np.asarray(boxes, np.float32).reshape(-1, 4)
    out = np.clip(out, 0, size)
    keep = ((out[:, 2] - out[:, 0]) >= 6) & ((out[:, 3] - out[:, 1]) >= 2)
    return picture, out[keep]


@dataclass(frozen=True)
class Labelled:
    """A real frame with the plates a teacher found on it (``plates``) and what it half-saw (``ignore``)."""

    rgb: np.ndarray
    plates: np.ndarray
    ignore: np.ndarray


def real_sample(rng: np.random.Generator, frames: list[Labelled],
                size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``size`` square of a labelled real frame (around one of its plates, mostly), at 0.7-1.4 times its scale:
    (RGB, plates, ignored boxes) in the square's pixels."""
    frame = frames[int(rng.integers(len(frames)))]
    h, w = frame.rgb.shape[:2]
    scale = float(rng.uniform(0.7, 1.4))
    side = int(round(size / scale))
    if len(frame.plates) and rng.random() < 0.75:
        x1, y1, x2, y2 = frame.plates[int(rng.integers(len(frame.plates)))]
        cx, cy = (x1 + x2) / 2 + rng.uniform(-0.4, 0.4) * side, (y1 + y2) / 2 + rng.uniform(-0.4, 0.4) * side
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ox = int(np.clip(cx - side / 2, 0, max(0, w - side)))
    oy = int(np.clip(cy - side / 2, 0, max(0, h - side)))
    crop = cv2.resize(frame.rgb[oy : oy + side, ox : ox + side], (size, size),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    factor = size / side

    def moved(boxes: np.ndarray) -> np.ndarray:
        out = (np.asarray(boxes, np.float32).reshape(-1, 4) - np.array([ox, oy, ox, oy], np.float32)) * factor
        out = np.clip(out, 0, size)
        return out[((out[:, 2] - out[:, 0]) >= 4) & ((out[:, 3] - out[:, 1]) >= 2)]

    plates, ignore = moved(frame.plates), moved(frame.ignore)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        plates = plates[:, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1], np.float32) + np.array([size, 0, size, 0], np.float32)
        ignore = ignore[:, [2, 1, 0, 3]] * np.array([-1, 1, -1, 1], np.float32) + np.array([size, 0, size, 0], np.float32)
    lit = np.zeros((size, size), np.float32)
    for x1, y1, x2, y2 in plates.astype(int):
        lit[y1:y2, x1:x2] = 1.0
    return _photometric(rng, np.ascontiguousarray(crop), lit), plates, ignore


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
