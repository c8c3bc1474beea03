"""Carry detections across the frames of one clip so that the blur covers the frames between detections.

Detection runs on keyframes (every ``stride`` frames). Within one clip, boxes detected on consecutive keyframes are
joined into tracks by position only (no appearance kept, no identity: nothing here can link people across clips). A
track covers the frames between its observations, ``lead`` and ``trail`` frames before its first and after its
last one, and, when the clip ends while it could still be joined to a detection, every frame to the last. A
detection is never dropped.

**Where the object is, not where it might be.** Given the picture's own motion (``motion``: template steps between
consecutive frames, ``imaging.local_motion``), a box is carried along the path the object's pixels take:

- between two observations, along the paths from either that land on the other (each bent to end on it); where
  neither lands, the two are taken for two objects, each carried along its own path;
- before a track's first and after its last observation, along the path from it, for as long as the object's
  pixels are found: a path that loses them (the object left the picture or went behind something) stops, and the
  box with it, one frame later;
- padded by a share of its size (less where two paths agree than where one runs alone and may drift, a little more
  per frame it runs), by the size change its observations show and by the measurement's pixel: a box grows with
  what the motion leaves uncertain, not with the distance. A clip's end is no reason to grow.

Where there is nothing to measure (no ``motion``, a flat patch, frames no longer kept) or both paths lost the
object between two observations (hidden for a while), the box falls back to the straight line: interpolated
between observations, extrapolated along the track's velocities and grown with the distance outside them, and, with
a moving camera (``camera``), a second box carried with the camera's path and padded by CAMERA_PAD of its movement.

``BoxCarrier`` is online: observations arrive keyframe by keyframe, and the boxes of frame ``f`` are final once a
keyframe at or beyond ``f + carrier.reach`` has been observed (or the clip has ended).

**The clip's ends.** Mid-clip, a track the detector misses on up to ``max_gap`` keyframes is bridged by its next
detection. A clip is cut from a longer scene: the detection that would have bridged a miss at its end lies
outside it. So a track still joinable when the clip ends (its last observation within ``horizon`` of the last
frame, once ``finish`` says which that is) is carried to the last frame, along its path while that holds. The
clip's start is not treated alike: a box carried back further than ``lead`` would depend on observations up to
``horizon`` after the first, later than the pipeline waits before it emits a frame (``reach``).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from anonymizer.domain.detections import Detections

# A track is extended before its first and after its last observation along two velocities, both covered: the
# latest one (an approaching car's plate speeds up in the picture) and one measured over at least a stride (a
# detector's jitter between observations a frame apart is not speed). Neither is capped: a cap left approaching
# plates uncovered before their first detection, and saved only blurred area around false positives.

# The camera pad of a scene box (below) is at most this many object sizes per side.
CAMERA_PAD_MAX = 2.0

# camera(frame) -> (dx, dy): where the scene has moved in the picture by that frame, cumulative, in frame pixels.
Camera = Callable[[int], np.ndarray]
# The scene box is padded by this share of the camera's movement since the nearest observation (per side).
CAMERA_PAD = 0.5

# Carrying along the measured path (``Motion``): the measured box (the observed one, moved) is padded, on each axis,
# by TRACK_PAD of the box's extent there plus TRACK_GROWTH per frame followed (each step can drift by a pixel or so),
# at most TRACK_PAD_MAX, plus the size change the track's observations show (the path measures a shift, not a
# scale), plus one pixel of the measurement (``Motion.scale`` frame pixels). A box between two observations whose
# paths both land on the other is padded by LANDED_PAD instead, plus where the two paths disagree.
TRACK_PAD = 0.15
LANDED_PAD = 0.05
TRACK_GROWTH = 0.01
TRACK_PAD_MAX = 0.5
# A path between two observations holds when, followed from one to the other, it ends within this many object
# sizes of it (the detector's box of one object changes by a fraction of a size; a path that drifted, or a wrong
# join of two objects, is off by several).
LANDS = 1.0
# A step whose best normalised correlation is under this did not find the object: it left or went behind something.
MATCH_MIN = 0.5


class Motion(Protocol):
    """The picture's own motion (``imaging.local_motion.LocalMotion``): where the content of ``box`` on frame ``a``
    is on the adjacent frame ``b``, searched around ``shift``, and the match's score (1: the same; 0: it left the
    picture); None when it cannot tell (a frame not kept, no texture)."""

    def step(self, box: np.ndarray, a: int, b: int,
             shift: np.ndarray | None = None) -> tuple[np.ndarray, float] | None: ...

    def has(self, index: int) -> bool: ...

    @property
    def scale(self) -> int: ...  # frame pixels per measured pixel


@dataclass
class Path:
    """Where one observation's object went, frame by frame away from it in one direction: ``boxes[k]`` is on the
    frame k + 1 away; ``state`` is ``open`` (can go on), ``lost`` (the next frame did not match: the object left or
    is hidden) or ``unknown`` (nothing to measure: the tracker falls back to its straight line)."""

    boxes: list[np.ndarray] = field(default_factory=list)
    state: str = "open"


# _measured's answer where the measured path says the object is not there.
GONE = np.zeros(0, np.float32)


@dataclass(frozen=True)
class CarryParams:
    """``stride``: frames between keyframes; ``extend``: extra frames covered before and after a track;
    ``max_gap``: keyframes a track may miss and still be joined; ``match_distance``: centre distance, in box
    sizes, under which a detection continues a track (generous: a wrong join only widens the covered area, a
    missed join leaves moving objects to held boxes); ``growth``: how much an extrapolated box grows per frame
    away from its observation, in box sizes per side (where the object went is less certain farther out);
    ``refine_motion``: motion between two detections, in box sizes, above which the frames between them are
    looked at too."""

    stride: int = 1
    extend: int = 4
    max_gap: int = 2
    match_distance: float = 2.5
    growth: float = 0.05
    refine_motion: float = 0.5

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError("stride must be >= 1")
        if self.extend < 0 or self.max_gap < 0:
            raise ValueError("extend and max_gap must be >= 0")

    @property
    def lead(self) -> int:
        """Frames covered before a track's first observation: the object may have been there since the
        keyframe before, plus a margin."""
        return self.stride - 1 + self.extend

    @property
    def trail(self) -> int:
        return self.stride - 1 + self.extend

    @property
    def reach(self) -> int:
        """Frames after ``f`` that must have been observed before the boxes of ``f`` are final: a track that
        starts up to ``lead`` frames later covers ``f``, and its second observation (which sets the velocity of
        its backward extension) can come ``horizon`` frames after its first."""
        return self.lead + self.horizon

    @property
    def horizon(self) -> int:
        """Frames after its last observation during which a track can still be joined."""
        return self.stride * (self.max_gap + 1)


@dataclass
class Track:
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    # (observation's frame, direction) -> its measured path (``BoxCarrier.motion``)
    paths: dict[tuple[int, int], Path] = field(default_factory=dict)

    def velocity(self, span: int = 1) -> np.ndarray:
        """Box change per frame from the latest observation at least ``span`` frames before the last one (or the
        first observation) to the last (zero with one observation). Over a span, a detector's jitter between two
        observations one frame apart (a refinement beside a keyframe) is not taken for speed."""
        if len(self.frames) < 2:
            return np.zeros(4, np.float32)
        i = self.span_back(span)
        return (self.boxes[-1] - self.boxes[i]) / (self.frames[-1] - self.frames[i])

    def first_velocity(self, span: int = 1) -> np.ndarray:
        if len(self.frames) < 2:
            return np.zeros(4, np.float32)
        j = self.span_forward(span)
        return (self.boxes[j] - self.boxes[0]) / (self.frames[j] - self.frames[0])

    def span_back(self, span: int) -> int:
        """Index of the latest observation at least ``span`` frames before the last one (0 if none; the one before
        the last at the least, where there are two)."""
        i = len(self.frames) - 2
        while i > 0 and self.frames[-1] - self.frames[i] < span:
            i -= 1
        return max(i, 0)

    def span_forward(self, span: int) -> int:
        """Index of the earliest observation at least ``span`` frames after the first one (the last if none; the
        one after the first at the least, where there are two)."""
        j = 1
        while j < len(self.frames) - 1 and self.frames[j] - self.frames[0] < span:
            j += 1
        return min(j, len(self.frames) - 1)

    def smallest(self) -> float:
        """The size of the track's smallest observed box."""
        return min(_size(box) for box in self.boxes)

    def predict(self, frame: int, span: int = 1) -> np.ndarray:
        return self.boxes[-1] + self.velocity(span) * (frame - self.frames[-1])


def _size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1], 1.0))


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float32)


def _hull(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])], np.float32)


def _contains(outer: np.ndarray, inner: np.ndarray) -> bool:
    return bool(outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3])


def _grow(box: np.ndarray, frames: int, growth: float, size: float) -> np.ndarray:
    """``box`` padded by ``growth`` of ``size`` (the object's, not the box's: a swept box must not compound) per
    frame and side."""
    pad = growth * size * abs(frames)
    return (box + np.array([-pad, -pad, pad, pad], np.float32)).astype(np.float32)


def _interpolate(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    box = a + (b - a) * t
    # Motion between keyframes need not be linear: pad by a share of the displacement, largest mid-way.
    shift = float(np.linalg.norm(_centre(b) - _centre(a)))
    pad = 0.25 * shift * 4 * t * (1 - t)
    return (box + np.array([-pad, -pad, pad, pad], np.float32)).astype(np.float32)


class BoxCarrier:
    """Online tracker for one kind of object in one clip; ``camera``: the clip's camera path, if known."""

    def __init__(self, params: CarryParams, camera: Camera | None = None, motion: Motion | None = None) -> None:
        self.params = params
        self.camera = camera
        self.motion = motion
        self._lone: dict[tuple[float, ...], Track] = {}  # ``follow``'s boxes, each with its measured paths
        self.tracks: list[Track] = []
        self.last_keyframe = -1
        self.end: int | None = None  # the clip's last frame, once known (``finish``)

    @property
    def reach(self) -> int:
        return self.params.reach

    def is_keyframe(self, frame: int) -> bool:
        return frame % self.params.stride == 0

    # ------------------------------------------------------------------------------------------- scene coordinates

    def _shift(self, frame: int) -> np.ndarray:
        d = np.asarray(self.camera(frame), np.float32).reshape(2) if self.camera is not None else np.zeros(2, np.float32)
        return np.array([d[0], d[1], d[0], d[1]], np.float32)

    def _scene(self, track: Track, frame: int) -> Track:
        """The part of a track that places it on ``frame``, in scene coordinates (boxes with the camera's shift at
        their frames taken out): the two observations around the frame inside its span; before its first (after
        its last) observation, those from the first (last) one to a stride away, which its velocities use. A few
        observations whatever the track's length: a parked car's plate can be observed on every keyframe for
        hours."""
        fr, n = track.frames, len(track.frames)
        if frame <= fr[0]:
            idx = range(0, track.span_forward(self.params.stride) + 1)
        elif frame >= fr[-1]:
            idx = range(track.span_back(self.params.stride), n)
        else:
            i = bisect_right(fr, frame) - 1
            idx = range(i, min(i + 2, n))
        return Track([fr[k] for k in idx], [track.boxes[k] - self._shift(fr[k]) for k in idx])

    def _moved(self, frame: int, other: int) -> float:
        """How far the camera moved the picture between two frames (pixels)."""
        d = self._shift(frame) - self._shift(other)
        return float(np.hypot(d[0], d[1]))

    def _in_picture(self, box: np.ndarray, frame: int, since: int, size: float) -> np.ndarray:
        """A scene box at ``frame``, in the picture, padded for what a global shift does not model: CAMERA_PAD of
        the camera's movement since frame ``since``, at most CAMERA_PAD_MAX times the object's ``size`` per side
        (what a global shift misses most is parallax, which is smaller the farther, and so the smaller, the
        object)."""
        pad = min(CAMERA_PAD * self._moved(frame, since), CAMERA_PAD_MAX * size)
        return (box + self._shift(frame) + np.array([-pad, -pad, pad, pad], np.float32)).astype(np.float32)

    # ------------------------------------------------------------------------------------------------ observations

    def finish(self, last_frame: int) -> None:
        """The clip ends at ``last_frame`` (observed last): tracks still joinable then are carried to it."""
        self.end = last_frame

    def span(self, track: Track) -> tuple[int, int]:
        """The frames a track covers: its lead and trail around its observations, to the clip's last frame (once
        known) where the track could still have been joined to a detection the clip cut off."""
        p = self.params
        first, last = track.frames[0], track.frames[-1]
        lo, hi = first - p.lead, last + p.trail
        if self.end is not None and self.end - last <= p.horizon:
            hi = max(hi, self.end)
        return lo, hi

    def observe(self, frame: int, detections: Detections) -> None:
        """Add the detections of keyframe ``frame`` (keyframes must arrive in increasing order)."""
        if frame <= self.last_keyframe:
            raise ValueError(f"keyframe {frame} after {self.last_keyframe}")
        self.last_keyframe = frame
        p = self.params
        horizon = p.horizon
        candidates = []
        for track in self.tracks:
            if frame - track.frames[-1] <= horizon:
                # Keyframes missed since the track was last seen (the clip's last frame can come sooner).
                missed = max(0, -(-(frame - track.frames[-1]) // p.stride) - 1)
                expected = [track.predict(frame), track.predict(frame, p.stride)]
                if self.camera is not None:
                    scene = self._scene(track, frame)
                    expected += [scene.predict(frame) + self._shift(frame),
                                 scene.predict(frame, p.stride) + self._shift(frame)]
                candidates.append((track, expected, p.match_distance * (1 + 0.5 * missed)))
        self._assign(frame, detections, candidates)

    def _assign(self, frame: int, detections: Detections,
                candidates: list[tuple[Track, list[np.ndarray], float]]) -> None:
        """Join detections to tracks, greedily by centre distance (in box sizes) to where each track's object is
        expected (the nearer of its picture and scene predictions), within each track's gate and a 3x size ratio;
        every detection left over starts a track. Never drops a detection."""
        pairs: list[tuple[float, int, int]] = []
        for ti, (_track, expected, gate) in enumerate(candidates):
            for di, (box, _score) in enumerate(detections):
                costs = [float(np.linalg.norm(_centre(e) - _centre(box))) / max(_size(e), _size(box))
                         for e in expected if 1 / 3 <= _size(box) / _size(e) <= 3]
                if costs and min(costs) <= gate:
                    pairs.append((min(costs), ti, di))
        pairs.sort()
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _cost, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            track = candidates[ti][0]
            i = int(np.searchsorted(track.frames, frame))
            track.frames.insert(i, frame)
            track.boxes.insert(i, detections.xyxy[di].copy())
        for di in range(len(detections)):
            if di not in used_d:
                self.tracks.append(Track([frame], [detections.xyxy[di].copy()]))

    def needs_refinement(self, a: int, b: int, max_size: float | None = None) -> bool:
        """Whether the frames between two frames the detector ran on (``a`` < ``b``) deserve a look of their own:
        an object appeared at ``b`` (when did it come in, and from where?), one seen at ``a`` was not found at
        ``b`` (did it leave, or did the detector miss it?), or one moved more than ``refine_motion`` box sizes
        between them in the picture (its path in between may not be straight). With ``max_size``, only tracks that
        were ever that small count."""
        if b - a <= 1:
            return False
        for t in self.tracks:
            if max_size is not None and t.smallest() > max_size:
                continue  # only tracks this small concern the caller (the full-resolution pass)
            at_a, at_b = a in t.frames, b in t.frames
            if at_b and not at_a and t.frames[0] == b:
                return True
            if at_a and not at_b and t.frames[-1] <= b:
                return True
            if at_a and at_b:
                box_a, box_b = t.boxes[t.frames.index(a)], t.boxes[t.frames.index(b)]
                shift = float(np.linalg.norm(_centre(box_b) - _centre(box_a))) / max(_size(box_a), _size(box_b))
                if shift > self.params.refine_motion:
                    return True
        return False

    def refine(self, frame: int, detections: Detections) -> None:
        """Add the detections of a frame between keyframes: each joins the track whose expected box there is
        nearest (within the gate), or starts a track of its own. Never drops a detection."""
        candidates = []
        for track in self.tracks:
            expected = [] if frame in track.frames else self._expected(track, frame)
            if expected:
                candidates.append((track, expected, self.params.match_distance))
        self._assign(frame, detections, candidates)

    def _expected(self, track: Track, frame: int) -> list[np.ndarray]:
        """Where a track's object should be on ``frame`` (in the picture, and through the scene when the camera
        path is known): interpolated inside its span, extrapolated within the matching horizon outside it."""
        horizon = self.params.horizon
        first, last = track.frames[0], track.frames[-1]
        if not (first - horizon <= frame <= last + horizon):
            return []
        out = [self._position(track, frame)]
        if self.camera is not None:
            out.append(self._position(self._scene(track, frame), frame) + self._shift(frame))
        return out

    def _position(self, track: Track, frame: int) -> np.ndarray:
        first, last = track.frames[0], track.frames[-1]
        if first <= frame <= last:
            i = int(np.searchsorted(track.frames, frame, side="right")) - 1
            if track.frames[i] == frame:
                return track.boxes[i]
            f0, f1 = track.frames[i], track.frames[i + 1]
            return track.boxes[i] + (track.boxes[i + 1] - track.boxes[i]) * ((frame - f0) / (f1 - f0))
        if frame < first:
            return track.boxes[0] + track.first_velocity() * (frame - first)
        return track.predict(frame)

    def where(self, frame: int, max_size: float | None = None) -> np.ndarray:
        """(N, 4) where the tracks' objects should be on ``frame`` (picture and scene predictions, no horizon), of
        tracks that were ever at most ``max_size``: what the full-resolution pass follows."""
        out: list[np.ndarray] = []
        for t in self.tracks:
            if max_size is not None and t.smallest() > max_size:
                continue
            out.append(self._position(t, frame))
            if self.camera is not None:
                moved = self._position(self._scene(t, frame), frame) + self._shift(frame)
                if not _contains(out[-1], moved):
                    out.append(moved)
        return np.asarray(out, np.float32).reshape(-1, 4)

    @staticmethod
    def _nearest(track: Track, frame: int) -> int:
        """Index of the track's observation nearest to ``frame``."""
        i = bisect_right(track.frames, frame)
        if i == 0:
            return 0
        if i == len(track.frames):
            return i - 1
        return i if track.frames[i] - frame < frame - track.frames[i - 1] else i - 1

    # ------------------------------------------------------------------------------------------------------ boxes

    def boxes(self, frame: int) -> tuple[np.ndarray, int]:
        """Boxes covering ``frame`` and how many of them were detected on that very frame."""
        p = self.params
        out: list[np.ndarray] = []
        detected = 0
        for track in self.tracks:
            lo, hi = self.span(track)
            if frame < lo or frame > hi:
                continue
            box, was_detected, measured = self._carried(track, frame)
            if box.ndim == 2:
                out.extend(box)
            elif len(box):
                out.append(box)
            detected += was_detected
            if was_detected or measured or self.camera is None:
                continue
            scene_box = self._straight(self._scene(track, frame), frame)
            near = self._nearest(track, frame)
            moved = self._in_picture(scene_box, frame, track.frames[near], _size(track.boxes[near]))
            if not _contains(box, moved):
                out.append(moved)
        if not out:
            return np.zeros((0, 4), np.float32), 0
        return np.stack(out).astype(np.float32), detected

    def _carried(self, track: Track, frame: int) -> tuple[np.ndarray, int, bool]:
        """A track's box on a frame within its span ((4,), or (N, 4) between two observations taken for N objects;
        empty where its measured paths say the object is not there), 1 when it was detected on that very frame, and
        whether the box was measured (``_measured``, ``_between``) rather than drawn along a straight line."""
        first, last = track.frames[0], track.frames[-1]
        i = int(np.searchsorted(track.frames, frame, side="right")) - 1
        if i >= 0 and track.frames[i] == frame:
            return track.boxes[i], 1, True
        if frame < first or frame > last:
            got = self._measured(track, 0 if frame < first else len(track.frames) - 1, frame)
            return (self._straight(track, frame), 0, False) if got is None else (got, 0, True)
        boxes = self._between(track, i, frame)
        if boxes is None:
            return self._straight(track, frame), 0, False
        return np.stack(boxes), 0, True

    def _straight(self, track: Track, frame: int) -> np.ndarray:
        """A track's box on a frame from its observations alone (in the track's own coordinates): interpolated
        between two, extrapolated along its velocities and grown with the distance outside them."""
        p = self.params
        first, last = track.frames[0], track.frames[-1]
        if frame < first:
            box = track.boxes[0]
            for v in (track.first_velocity(), track.first_velocity(p.stride)):
                box = _hull(box, track.boxes[0] + v * (frame - first))
            return _grow(box, first - frame, p.growth, _size(track.boxes[0]))
        if frame > last:
            box = track.boxes[-1]
            for v in (track.velocity(), track.velocity(p.stride)):
                box = _hull(box, track.boxes[-1] + v * (frame - last))
            return _grow(box, frame - last, p.growth, _size(track.boxes[-1]))
        i = int(np.searchsorted(track.frames, frame, side="right")) - 1
        if track.frames[i] == frame:
            return track.boxes[i]
        f0, f1 = track.frames[i], track.frames[i + 1]
        return _interpolate(track.boxes[i], track.boxes[i + 1], (frame - f0) / (f1 - f0))

    # ------------------------------------------------------------------------------------------- measured paths

    def _measured(self, track: Track, i: int, frame: int) -> np.ndarray | None:
        """Where observation ``i``'s object is on ``frame`` along its measured path, padded for what the path does
        not measure; GONE where the path lost it more than a frame before (it left the picture or went behind
        something: the frame after the last match is still covered); None where there is no path to measure."""
        if self.motion is None:
            return None
        anchor = track.frames[i]
        direction = 1 if frame > anchor else -1
        path = self._path(track, i, direction, frame)
        distance = abs(frame - anchor)
        if len(path.boxes) >= distance:
            box, followed = path.boxes[distance - 1], distance
        elif path.state == "lost" and distance <= len(path.boxes) + 1:
            box, followed = (path.boxes[-1] if path.boxes else track.boxes[i]), distance
        elif path.state == "lost":
            return GONE
        else:
            return None
        v = track.velocity(self.params.stride) if direction > 0 else track.first_velocity(self.params.stride)
        extent = track.boxes[i][2:] - track.boxes[i][:2]
        resize = np.abs(v[2:] - v[:2]) * followed / 2  # the size change the observations show, either way
        pad = min(TRACK_PAD + TRACK_GROWTH * followed, TRACK_PAD_MAX) * extent + resize + self.motion.scale
        return np.concatenate([box[:2] - pad, box[2:] + pad]).astype(np.float32)

    def follow(self, frame: int, box: np.ndarray, to: int) -> np.ndarray | None:
        """A lone box found on ``frame`` (a residual finding), on frame ``to``: along its measured path (padded as a
        track's), None where the path lost it, grown with the distance where there is nothing to measure."""
        key = (frame, *(round(float(v), 1) for v in box))
        track = self._lone.get(key)
        if track is None:
            track = self._lone[key] = Track([frame], [np.asarray(box, np.float32)])
        carried, _, _ = self._carried(track, to)  # a track of one observation
        return carried if len(carried) else None

    def _between(self, track: Track, i: int, frame: int) -> list[np.ndarray] | None:
        """Where the object is on a frame between observations ``i`` and ``i + 1``.

        Along the measured paths that hold from one observation to the other (followed to the other observation, a
        path lands within LANDS sizes of it), each bent to end exactly on it, the size drawn straight between the
        two: one box. Where neither lands, the two observations are taken for two objects (a wrong join, or one
        object lost and another found): each is carried along its own path, as after a track's last observation
        and before its first. None (the straight line) where a path has nothing to measure, or both lost the object
        (hidden between the two observations)."""
        if self.motion is None:
            return None
        a, b = track.frames[i], track.frames[i + 1]
        t = (frame - a) / (b - a)
        centres = []
        for k, other, direction in ((i, i + 1, 1), (i + 1, i, -1)):
            path = self._path(track, k, direction, track.frames[other])
            if len(path.boxes) < b - a:
                continue  # lost on the way (hidden for a while) or nothing to measure
            end, target = _centre(path.boxes[-1]), _centre(track.boxes[other])
            size = max(_size(track.boxes[k]), _size(track.boxes[other]))
            if float(np.linalg.norm(end - target)) > LANDS * size:
                continue
            step = abs(frame - track.frames[k])
            share = step / (b - a)  # how far along this path the frame is: its error is spread along it
            centres.append(_centre(path.boxes[step - 1]) + (target - end) * share)
        if centres:
            box = track.boxes[i] + (track.boxes[i + 1] - track.boxes[i]) * t  # the size, drawn straight
            centre = np.mean(centres, axis=0)
            half = (box[2:] - box[:2]) / 2
            spread = np.abs(centres[0] - centres[-1]) / 2  # where the two disagree, both are covered
            # Two paths that agree leave no drift to pad for (a still object keeps one box); one alone may drift.
            drift = TRACK_GROWTH * min(frame - a, b - frame) if len(centres) == 1 else 0.0
            pad = min(LANDED_PAD + drift, TRACK_PAD_MAX) * half * 2 + self.motion.scale
            lo, hi = centre - half - spread - pad, centre + half + spread + pad
            return [np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)]
        ahead, back = self._measured(track, i, frame), self._measured(track, i + 1, frame)
        if ahead is None or back is None:
            return None
        got = [x for x in (ahead, back) if len(x)]
        return got or None

    def _path(self, track: Track, i: int, direction: int, frame: int) -> Path:
        """Observation ``i``'s path towards ``frame``, measured step by step as far as it goes (and kept)."""
        assert self.motion is not None
        anchor = track.frames[i]
        path = track.paths.setdefault((anchor, direction), Path())
        distance = abs(frame - anchor)
        while path.state == "open" and len(path.boxes) < distance:
            a = anchor + direction * len(path.boxes)
            if not (self.motion.has(a) and self.motion.has(a + direction)):
                break  # not decoded yet (a finding ahead of the frame asked for), or no longer kept
            box = path.boxes[-1] if path.boxes else track.boxes[i]
            got = self.motion.step(box, a, a + direction, self._guess(track, i, direction, path, a))
            if got is None:  # (a frame no longer kept, a flat patch): the straight line takes over from here
                path.state = "unknown"
                break
            moved, score = got
            if score < MATCH_MIN:
                path.state = "lost"
                break
            path.boxes.append(moved)
        return path

    def _guess(self, track: Track, i: int, direction: int, path: Path, a: int) -> np.ndarray:
        """Where to look on the next frame, as a shift from frame ``a``: the camera's step plus the object's own
        motion (its previous measured step less the camera's; on the first step, its observed velocity where the
        camera is still)."""
        b = a + direction
        camera = (self._shift(b) - self._shift(a))[:2] if self.camera is not None else np.zeros(2, np.float32)
        if path.boxes:
            before = path.boxes[-2] if len(path.boxes) >= 2 else track.boxes[i]
            own = _centre(path.boxes[-1]) - _centre(before)
            if self.camera is not None:
                own = own - (self._shift(a) - self._shift(a - direction))[:2]
            return (camera + own).astype(np.float32)
        if self.camera is not None and bool(np.any(camera)):
            return camera.astype(np.float32)
        v = track.velocity(self.params.stride) if direction > 0 else track.first_velocity(self.params.stride)
        return (_centre(v) * direction).astype(np.float32)

    def forget_before(self, frame: int) -> None:
        """Drop tracks that can no longer cover ``frame`` or any later frame, nor be continued."""
        p = self.params
        horizon = p.horizon
        self.tracks = [
            t for t in self.tracks
            if self.span(t)[1] >= frame or self.last_keyframe - t.frames[-1] <= horizon
        ]
        for t in self.tracks:  # paths of observations no frame still to come can use (a parked car's, for hours)
            if t.paths and t.frames[0] < frame - p.reach:
                keep = frame - p.reach - horizon
                t.paths = {k: v for k, v in t.paths.items() if k[0] >= keep or k[0] == t.frames[-1]}
