"""Every anonymisation default and bound, defined once. The CLI options and the configuration file both read
this table, so a default can never differ between them."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from anonymizer.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None

    def check(self, value: Any) -> Any:
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.name}: expected true or false, got {value!r}")
            return value
        if self.choices is not None:
            if value not in self.choices:
                raise ConfigError(f"{self.name}: expected one of {', '.join(self.choices)}, got {value!r}")
            return value
        try:
            value = self.type(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: expected a {self.type.__name__}, got {value!r}") from exc
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ConfigError(f"{self.name}: {value} is outside [{self.low}, {self.high}]")
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("face_threshold", 0.2, "face detection threshold (lower finds more faces)", float, 0.01, 0.99),
    Setting("plate_threshold", 0.2, "plate detection threshold (the package's 0.6 misses most real plates)", float, 0.01, 0.99),
    Setting("face_first_stage", "off", "faces: retinaface (RetinaFace-MobileNet proposes at a low threshold, CenterFace confirms on a crop around each proposal: less CPU) or off (CenterFace on every pixel)", str, choices=("retinaface", "off")),
    Setting("plate_second", "clpdet", "plates: clpdet (a second, small plate detector runs beside platedet on every picture platedet is shown; the boxes of both are redacted) or off (platedet alone)", str, choices=("clpdet", "off")),
    Setting("plate_fine", "platedet", "plates' full-resolution pass: platedet (platedet and clpdet, on the frame enlarged as small_objects says) or platenet (the project's own detector, trained on plates at the size they have in a frame: the frame at its own size and at half of it, nothing enlarged; about 4x faster, but it wipes about twice the picture on busy streets: opt-in until its precision improves)", str, choices=("platedet", "platenet")),
    Setting("face_fine", "centerface", "faces' full-resolution pass: centerface (CenterFace at the frame's own size) or yunet (YuNet, from libfacedetection, there instead: about a quarter of the CPU, finds more faces of 10-19 px and slightly fewer of 20-39 px; photos run both; opt-in until measured on more sets)", str, choices=("centerface", "yunet")),
    Setting("face_max_side", 960, "long side, in pixels, of the frame given to the face detector (0: native)", int, 0, 7680),
    Setting("plate_max_side", 640, "long side, in pixels, of the frame given to the plate detector", int, 160, 2560),
    Setting("face_stride", 5, "run the face detector every N frames (at 25 fps or more; a slower clip keeps keyframes as close in time); boxes are carried across the frames between", int, 1, 30),
    Setting("plate_stride", 10, "run the plate detector every N frames (at 25 fps or more; a slower clip keeps keyframes as close in time); boxes are carried across the frames between", int, 1, 60),
    Setting("carry_frames", 4, "frames covered before a track's first and after its last detection, beyond the stride, while the picture's motion still finds the object (a track last detected within three strides of the clip's end is carried to its last frame)", int, 0, 250),
    Setting("face_scale", 1.6, "faces are redacted with an ellipse this many times the detected box (1.6: each side grown by 30 %, as deface does)", float, 1.0, 3.0),
    Setting("plate_pad", 0.1, "plates are redacted with the box padded by this fraction per side", float, 0.0, 1.0),
    Setting("small_objects", "auto", "full-resolution detection (crops where the picture changes, periodic full scans) where the coarse pass scales the frame down: auto (plates: the plate_fine detector; with plate_fine platedet, platedet and clpdet also on the frame enlarged 2x and 3x up to 4K), native (the same at the frame's own size only) or off (none)", str, choices=("auto", "native", "off")),
    Setting("method", "blur", "redaction: blur (detail destroyed), pixelate or solid", str, choices=("blur", "pixelate", "solid")),
    Setting("codec", "libx264", "output video encoder", str, choices=("libx264", "libx265", "mpeg4")),
    Setting("crf", 23, "encoder constant rate factor (lower is better quality, larger files)", int, 0, 51),
    Setting("preset", "veryfast", "encoder speed preset", str,
            choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")),
    Setting("keep_audio", False, "copy the audio track (dropped by default: audio is recorded in marked areas only)", bool),
    Setting("copy_unchanged", False, "copy the input's GOPs that hold no redaction instead of re-encoding them (H.264 with closed GOPs into .mp4/.mov/.mkv; otherwise everything is re-encoded, as without it)", bool),
    Setting("residual_samples", 32, "most output frames re-checked by the detectors after encoding (one per 25 frames, at least 2; 0: no check)", int, 0, 10000),
    Setting("device", "auto", "inference device", str, choices=("auto", "cpu", "cuda")),
)
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class AnonymiseSettings:
    face_threshold: float = BY_NAME["face_threshold"].default
    plate_threshold: float = BY_NAME["plate_threshold"].default
    face_first_stage: str = BY_NAME["face_first_stage"].default
    plate_second: str = BY_NAME["plate_second"].default
    plate_fine: str = BY_NAME["plate_fine"].default
    face_fine: str = BY_NAME["face_fine"].default
    face_max_side: int = BY_NAME["face_max_side"].default
    plate_max_side: int = BY_NAME["plate_max_side"].default
    face_stride: int = BY_NAME["face_stride"].default
    plate_stride: int = BY_NAME["plate_stride"].default
    carry_frames: int = BY_NAME["carry_frames"].default
    face_scale: float = BY_NAME["face_scale"].default
    plate_pad: float = BY_NAME["plate_pad"].default
    small_objects: str = BY_NAME["small_objects"].default
    method: str = BY_NAME["method"].default
    codec: str = BY_NAME["codec"].default
    crf: int = BY_NAME["crf"].default
    preset: str = BY_NAME["preset"].default
    keep_audio: bool = BY_NAME["keep_audio"].default
    copy_unchanged: bool = BY_NAME["copy_unchanged"].default
    residual_samples: int = BY_NAME["residual_samples"].default
    device: str = BY_NAME["device"].default

    def __post_init__(self) -> None:
        for f in fields(self):
            BY_NAME[f.name].check(getattr(self, f.name))

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "settings") -> "AnonymiseSettings":
        unknown = set(values) - set(BY_NAME)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(BY_NAME)}")
        return cls(**{k: BY_NAME[k].check(v) for k, v in values.items()})

    def with_(self, **changes: Any) -> "AnonymiseSettings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
