"""Photos (JPEG, PNG) in and out with Pillow, the only importer of PIL: read as displayed, write pixels only.

Reading applies the EXIF orientation, so detection and redaction see the picture as a viewer does and the output,
stored that way, needs no orientation tag. Writing encodes the pixels alone: no EXIF (GPS, camera, serials,
times), XMP, IPTC, comment, ICC profile or embedded thumbnail of the input reaches the output.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from anonymizer.errors import MediaError
from anonymizer.media.probe import Probe

#: Suffixes anonymised as photos (into a photo of the same format), not as one-frame videos.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
#: What a photo's content may be; MPO is a camera JPEG carrying more pictures (only the first is read).
READABLE = ("JPEG", "MPO", "PNG")
JPEG_QUALITY = 95  # near the input's quality: the unredacted pixels should stay as they were
EXIF_ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATE_TIME_ORIGINAL = 0x9003
DATE_TIME = 0x0132
# info keys of Pillow that carry metadata (named in the report when the input had them; never written).
METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop", "iptc", "mp")


@dataclass(frozen=True)
class Photo:
    """A decoded photo as displayed: ``rgb`` (H, W, 3) uint8, ``alpha`` (H, W) uint8 or None, ``grey`` when it is
    stored as greyscale; ``orientation`` is the EXIF orientation that was applied (1: none); ``taken`` the EXIF
    recording time (DateTimeOriginal, else DateTime) as an ISO wall time of the camera's clock, or None;
    ``metadata`` names what the input carried besides pixels (never its values)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    grey: bool
    format: str
    stored_size: tuple[int, int]
    orientation: int = 1
    taken: str | None = None
    metadata: tuple[str, ...] = ()


def is_photo(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def format_for(path: Path) -> str:
    """The format a photo is written in: the one its name says (a PNG named .jpg comes out a JPEG)."""
    return "PNG" if path.suffix.lower() == ".png" else "JPEG"


def _exif_time(text: object) -> str | None:
    """EXIF's ``YYYY:MM:DD HH:MM:SS`` as ISO ``YYYY-MM-DDTHH:MM:SS``; None when absent or blank."""
    if not isinstance(text, str) or len(text.strip()) < 19:
        return None
    value = text.strip().rstrip("\0")
    return f"{value[:4]}-{value[5:7]}-{value[8:10]}T{value[11:19]}"


def _exif_facts(im: Image.Image) -> tuple[int, str | None, bool]:
    """(EXIF orientation, recording time, whether GPS tags are present); (1, None, False) for EXIF that does not
    parse: a viewer shows such a photo as stored, and its metadata is dropped all the same."""
    try:
        exif = im.getexif()
        orientation = int(exif.get(EXIF_ORIENTATION, 1) or 1)
        taken = _exif_time(exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL)) or _exif_time(exif.get(DATE_TIME))
        return (orientation if 1 <= orientation <= 8 else 1), taken, bool(exif.get_ifd(GPS_IFD))
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, struct.error):
        return 1, None, False


def read_photo(path: Path) -> Photo:
    """Decode the whole photo (a truncated or damaged file fails here, not half-way through the output)."""
    try:
        with Image.open(path) as im:
            if im.format not in READABLE:
                raise MediaError(f"{path}: a {im.format} picture, not a JPEG or PNG photo; fix: convert it to PNG")
            im.load()
            names = [k for k in METADATA_KEYS if im.info.get(k)]
            orientation, taken, gps = _exif_facts(im)
            if gps:
                names.append("gps")
            stored_size = im.size
            shown = ImageOps.exif_transpose(im) if orientation != 1 else im
            if shown.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: Pillow's own conversion clips at 255
                shown = Image.fromarray((np.asarray(shown).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8), "L")
            fmt = "JPEG" if im.format == "MPO" else str(im.format)
            has_alpha = shown.mode in ("RGBA", "LA", "PA") or "transparency" in shown.info
            grey = shown.mode in ("L", "LA", "1", "I", "I;16", "F") and not has_alpha
            alpha = np.asarray(shown.convert("RGBA"))[:, :, 3].copy() if has_alpha else None
            rgb = np.ascontiguousarray(np.asarray(shown.convert("RGB")))
    except FileNotFoundError as exc:
        raise MediaError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise MediaError(f"{path}: is a directory") from exc
    except PermissionError as exc:
        raise MediaError(f"{path}: permission denied") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        if path.exists() and path.stat().st_size == 0:
            raise MediaError(f"{path}: empty file") from exc
        reason = str(exc).replace(f" '{path}'", "").replace(f" {path}", "") or type(exc).__name__
        raise MediaError(f"{path}: not a readable JPEG or PNG photo ({reason})") from exc
    return Photo(rgb, alpha, grey, fmt, stored_size, orientation, taken, tuple(names))


def write_photo(path: Path, rgb: np.ndarray, fmt: str, alpha: np.ndarray | None = None, grey: bool = False,
                mode: int = 0o640) -> None:
    """Encode ``rgb`` (and ``alpha``, PNG only) as a new file at ``path`` with ``mode``; nothing else is written."""
    img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if grey:
        img = img.convert("L")
    if alpha is not None and fmt == "PNG":
        img.putalpha(Image.fromarray(alpha, "L"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            if fmt == "JPEG":
                img.save(fh, "JPEG", quality=JPEG_QUALITY, optimize=True)
            else:
                img.save(fh, "PNG")
    except OSError as exc:
        raise MediaError(f"{path}: cannot write the photo ({exc.strerror or exc})") from exc


def probe_photo(path: Path) -> Probe:
    """A photo described as a clip of one frame (its stored size; no rate, no duration, no audio); ``creation_time``
    is its EXIF recording time, the camera clock's wall time, as a container's is."""
    photo = read_photo(path)
    width, height = photo.stored_size
    return Probe(path=path, codec=photo.format.lower(), width=width, height=height, rate=None,
                 time_base=Fraction(1), frames=1, duration=0.0, has_audio=False, creation_time=photo.taken)
