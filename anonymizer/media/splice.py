"""Re-encode only what changed: an output whose GOPs without a redaction are the input's packets, copied.

A GOP here is an input keyframe packet and the packets after it up to the next keyframe. When every keyframe is an
IDR picture (closed GOPs: no picture refers across a keyframe), a GOP decodes on its own, so the output can take it
from the input unchanged, or decode it, redact it and encode it afresh, GOP by GOP. The re-encoded GOPs:

- are encoded by libx264 with SPS/PPS id 1 (the input's are id 0), sent in-band on their IDR, so that neither set
  replaces the other in a decoder: the copied GOPs still decode with the input's headers (in the container's
  ``avcC``) and come out pixel-identical;
- keep the input's decoding times (``dts``) packet for packet, so the source's B-frame delay and the timeline of
  the copied GOPs around them are unchanged; the encoder reorders at most one frame (B-frames without pyramid), or
  none when the input has no reordering, so that every packet's dts stays at or before its pts.

Copied packets lose their SEI NAL units (cameras put serials, GPS and captions there; the encoder writes none).
Only H.264 from and into MP4/MOV/MKV, yuv420p (limited or full range: the re-encoded GOPs are tagged as the input),
even sizes and IDR keyframes are copied (``copy_problem`` says why not); an input that turns out otherwise while the
output is built is re-encoded whole (``SpliceWriter.fallback``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import av
import numpy as np

from anonymizer import safe_files
from anonymizer.errors import MediaError
from anonymizer.media.reader import VideoReader, _own_yuv420, _planes
from anonymizer.media.writer import TempOutput, VideoWriter, temp_path_for

COPY_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS = 5, 6, 7, 8
SPLICE_SPS_ID = 1


class SpliceError(Exception):
    """The input cannot be copied GOP by GOP after all (the output is then re-encoded whole)."""


def _nal_units(data: bytes, length_size: int) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit of a length-prefixed (``avcC``) H.264 packet; SpliceError when malformed."""
    out, i, n = [], 0, len(data)
    while i < n:
        if i + length_size > n:
            raise SpliceError("truncated NAL length")
        size = int.from_bytes(data[i : i + length_size], "big")
        start, end = i + length_size, i + length_size + size
        if size == 0 or end > n:
            raise SpliceError("malformed NAL unit")
        out.append((start, end))
        i = end
    return out


def _first_ue_is_zero(payload: bytes) -> bool:
    """Whether an Exp-Golomb ue(v) starting at the first bit of ``payload`` is 0 (a single 1 bit)."""
    return bool(payload) and bool(payload[0] & 0x80)


def _avcc(extradata: bytes | None) -> tuple[int, list[bytes], list[bytes]]:
    """NAL length size, SPS and PPS units of an ``avcC`` record; SpliceError when it is not one."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        raise SpliceError("no avcC decoder configuration (Annex B stream)")
    length_size = (extradata[4] & 3) + 1
    i, sps, pps = 6, [], []
    for count, dest in ((extradata[5] & 31, sps), (None, pps)):
        if count is None:
            count = extradata[i]
            i += 1
        for _ in range(count):
            size = int.from_bytes(extradata[i : i + 2], "big")
            dest.append(extradata[i + 2 : i + 2 + size])
            i += 2 + size
    return length_size, sps, pps


def _header_id_zero(nal: bytes) -> bool:
    """Whether an SPS or PPS unit has id 0 (an SPS's id follows profile, constraints and level)."""
    kind = nal[0] & 31
    return _first_ue_is_zero(nal[4:] if kind == NAL_SPS else nal[1:])


def copy_problem(src: Path, target: Path) -> str | None:
    """Why ``src`` cannot be stream-copied GOP by GOP into ``target``; None when it can. Reads packets only."""
    if target.suffix.lower() not in COPY_SUFFIXES:
        return f"output container {target.suffix or '(none)'} (copies go to {', '.join(COPY_SUFFIXES)})"
    try:
        with av.open(str(src)) as container:
            fmt = container.format.name
            if not any(name in fmt.split(",") for name in ("mov", "mp4", "matroska")):
                return f"input container {fmt} (copies come from MP4, MOV or MKV)"
            vs = container.streams.video[0]
            cc = vs.codec_context
            if cc.name != "h264":
                return f"input codec {cc.name}, not h264"
            if cc.pix_fmt not in ("yuv420p", "yuvj420p"):  # yuvj420p: full range, kept in re-encoded GOPs
                return f"pixel format {cc.pix_fmt}, not yuv420p"
            if cc.width % 2 or cc.height % 2:
                return "odd frame size"
            try:
                length_size, sps, pps = _avcc(cc.extradata)
            except SpliceError as exc:
                return str(exc)
            if not all(_header_id_zero(h) for h in sps + pps):
                return "parameter sets other than id 0"
            first = True
            for packet in container.demux(vs):
                if packet.size == 0:
                    continue
                if packet.pts is None or packet.dts is None:
                    return "a packet without timestamps"
                if first and not packet.is_keyframe:
                    return "does not start with a keyframe"
                first = False
                data = bytes(packet)
                try:
                    units = _nal_units(data, length_size)
                except SpliceError as exc:
                    return str(exc)
                kinds = [data[s] & 31 for s, _ in units]
                if packet.is_keyframe and NAL_IDR not in kinds:
                    return "open GOP (a keyframe that is not an IDR picture)"
                for (s, e), kind in zip(units, kinds):
                    if kind in (NAL_SPS, NAL_PPS) and not _header_id_zero(data[s:e]):
                        return "in-band parameter sets other than id 0"
    except (av.FFmpegError, OSError, IndexError) as exc:
        return f"unreadable ({exc})"
    return None


def _strip_sei(data: bytes, length_size: int) -> bytes | None:
    """The packet without its SEI units, or None when it has none."""
    units = _nal_units(data, length_size)
    if not any(data[s] & 31 == NAL_SEI for s, _ in units):
        return None
    out = bytearray()
    for s, e in units:
        if data[s] & 31 != NAL_SEI:
            out += data[s - length_size : e]
    return bytes(out)


def _annexb_to_lengths(data: bytes, length_size: int) -> bytes:
    """An encoder's Annex B packet (start codes) as length-prefixed NAL units (what MP4 and MKV store)."""
    starts, j = [], 0
    while True:
        k = data.find(b"\x00\x00\x01", j)
        if k < 0:
            break
        starts.append(k + 3)
        j = k + 3
    out = bytearray()
    for a, s in enumerate(starts):
        end = starts[a + 1] - 3 if a + 1 < len(starts) else len(data)
        if a + 1 < len(starts) and end > s and data[end - 1] == 0:
            end -= 1  # the leading zero of a 4-byte start code
        out += (end - s).to_bytes(length_size, "big") + data[s:end]
    return bytes(out)


Apply = Callable[[list[np.ndarray], object], None]


class SpliceWriter(TempOutput):
    """Stands where ``VideoWriter`` stands in the anonymise loop. Frames are not encoded as they come: ``add`` takes
    each frame's redactions (in the order they were applied), and ``finish`` builds the output from the input,
    copying the GOPs with none and re-encoding the others with ``apply(planes, redaction)`` replayed on their
    decoded frames. ``publish``/``abort`` as ``VideoWriter``'s."""

    def __init__(self, source: Path, target: Path, apply: Apply, rotation: int = 0, crf: int = 23,
                 preset: str = "veryfast", threads: int | None = None, mode: int = 0o640) -> None:
        self.source, self.target, self.apply = source, target, apply
        self.rotation, self.crf, self.preset, self.threads, self.mode = rotation, crf, preset, threads, mode
        self.tmp = temp_path_for(target)
        self.redactions: dict[int, list[object]] = {}
        self.pts: list[int | None] = []  # each frame's pts, as the anonymise loop decoded it
        self.redacted_pts: set[int] = set()
        self.frames = 0
        self.stats: dict = {}
        self._closed = False
        with av.open(str(source)) as c:
            cc = c.streams.video[0].codec_context
            self.width, self.height = cc.width, cc.height
        safe_files.output_dirs(target.parent)

    def add(self, index: int, pts: int | None, redactions: list[object]) -> None:
        """Frame ``index`` (decoder output order) with its pts and the redactions applied to it, in order."""
        if index != self.frames:
            raise MediaError(f"{self.target}: frame {index} out of order")
        if redactions:
            self.redactions[index] = list(redactions)
            if pts is not None:
                self.redacted_pts.add(pts)
        self.pts.append(pts)
        self.frames += 1

    # ------------------------------------------------------------------------------------------------- build

    def finish(self) -> Path:
        try:
            os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.mode))
            try:
                self.stats = self._splice()
            except (SpliceError, av.FFmpegError) as exc:  # a muxer refusing a packet too: re-encode it all
                self.stats = {"fallback": str(exc)}
                self._full()
        except (av.FFmpegError, OSError) as exc:
            self.abort()
            raise MediaError(f"{self.target}: writing the output failed ({exc})") from exc
        self._closed = True
        return self.tmp

    def _splice(self) -> dict:
        gops = copied_gops = copied_frames = 0
        with av.open(str(self.source)) as inp, av.open(str(self.tmp), mode="w") as out:
            vin = inp.streams.video[0]
            length_size, _, _ = _avcc(vin.codec_context.extradata)
            out.metadata.clear()  # identifying container metadata is never copied
            vout = out.add_stream_from_template(vin)
            vout.metadata.clear()
            # The template keeps the input's codec parameters, its avcC and its display matrix.
            base = 0
            pending: list[av.Packet] = []

            def flush() -> None:
                nonlocal base, gops, copied_gops, copied_frames
                if not pending:
                    return
                gops += 1
                n = len(pending)
                # Re-encoded when a frame of the GOP holds a redaction, by its place in decoding output order or by
                # its pts (either is enough: a GOP is copied only when both say nothing there is redacted).
                if (any(i in self.redactions for i in range(base, base + n))
                        or any(p.pts in self.redacted_pts for p in pending)):
                    self._reencode(vin, vout, out, pending, base, length_size)
                else:
                    for p in pending:
                        stripped = _strip_sei(bytes(p), length_size)
                        if stripped is not None:
                            q = av.Packet(stripped)
                            q.pts, q.dts, q.time_base, q.is_keyframe = p.pts, p.dts, p.time_base, p.is_keyframe
                            p = q
                        p.stream = vout
                        out.mux(p)
                    copied_gops += 1
                    copied_frames += n
                base += n
                pending.clear()

            for packet in inp.demux(vin):
                if packet.size == 0:
                    continue
                if packet.is_keyframe:
                    flush()
                pending.append(packet)
            flush()
            if base != self.frames:
                raise SpliceError(f"{base} packets for {self.frames} decoded frames")
        return {"gops": gops, "copied_gops": copied_gops, "copied_frames": copied_frames,
                "reencoded_frames": base - copied_frames}

    def _reencode(self, vin: av.VideoStream, vout: av.VideoStream, out: av.container.OutputContainer,
                  packets: list[av.Packet], base: int, length_size: int) -> None:
        dec = av.CodecContext.create("h264", "r")
        dec.thread_type = "AUTO"
        if self.threads:
            dec.thread_count = self.threads
        dec.extradata = vin.codec_context.extradata
        reorder = any(p.dts < p.pts for p in packets)
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        # Tagged as the copied GOPs are: a re-encoded GOP of a full-range input must say full range too.
        for tag in ("color_range", "colorspace", "color_primaries", "color_trc"):
            setattr(enc, tag, getattr(vin.codec_context, tag))
        enc.time_base = vin.time_base
        if vin.average_rate:
            enc.framerate = vin.average_rate
        if self.threads:
            enc.thread_count = self.threads
        enc.options = {"crf": str(self.crf), "preset": self.preset, "a53cc": "0", "udu_sei": "0",
                       "bframes": "3" if reorder else "0", "b-pyramid": "none", "keyint": str(len(packets) + 1),
                       "x264-params": f"sps-id={SPLICE_SPS_ID}"}
        encoded: list[av.Packet] = []
        k = 0  # frames decoded so far: each is redacted and encoded as it comes (no GOP of frames in memory)
        for p in [*packets, None]:
            for frame in dec.decode(p):
                if base + k >= len(self.pts) or frame.pts != self.pts[base + k]:
                    raise SpliceError(f"frame {base + k} decodes with another pts than in the anonymise loop")
                frame = _own_yuv420(frame)
                planes = _planes(frame)
                for redaction in self.redactions.get(base + k, []):
                    self.apply(planes, redaction)
                frame.pict_type = av.video.frame.PictureType.NONE
                encoded.extend(enc.encode(frame))
                k += 1
        if k != len(packets):
            raise SpliceError(f"a GOP of {len(packets)} packets decoded to {k} frames")
        encoded.extend(enc.encode(None))
        if len(encoded) != len(packets) or not encoded[0].is_keyframe:
            raise SpliceError(f"a GOP of {len(packets)} frames encoded to {len(encoded)} packets")
        # The input's decoding times, packet for packet: its B-frame delay and the copied GOPs' timeline are kept.
        for e, src in zip(encoded, packets):
            if e.pts is None or src.dts > e.pts:
                raise SpliceError("re-encoded GOP needs more reordering delay than the input has")
            q = av.Packet(_annexb_to_lengths(bytes(e), length_size))
            q.pts, q.dts, q.time_base, q.is_keyframe = e.pts, src.dts, vin.time_base, e.is_keyframe
            q.stream = vout
            out.mux(q)

    def _full(self) -> None:
        """Everything re-encoded, as the ordinary path does (the input turned out unfit to copy)."""
        with VideoReader(self.source) as reader:
            side = self.target.with_name(f".{self.target.stem}.full{self.target.suffix}")  # its own temporary file
            writer = VideoWriter(side, reader.width, reader.height, reader.time_base, reader.rate,
                                 crf=self.crf, preset=self.preset, rotation=self.rotation, threads=self.threads,
                                 mode=self.mode)
            try:
                for frame in reader.frames():
                    for redaction in self.redactions.get(frame.index, []):
                        self.apply(frame.planes, redaction)
                    writer.write_frame(frame.av_frame)
                    frame.av_frame = None
                writer.finish()
                os.replace(writer.tmp, self.tmp)
            finally:
                writer.abort()

    # ------------------------------------------------------------------------------------------------ publish

    def abort(self) -> None:
        if self._published:
            return
        self._closed = True
        self.tmp.unlink(missing_ok=True)
