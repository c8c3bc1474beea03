"""Decode a video into YUV 4:2:0 planes with PyAV, on a thread, with exact timestamps.

The decode thread always sends its sentinel and the caller re-raises its error, so a decode failure can never hang
the pipeline.
"""

from __future__ import annotations

import heapq
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from anonymizer.errors import MediaError
from anonymizer.media.probe import media_error
from anonymizer.media.threads import codec_threads

_SENTINEL = object()


@dataclass
class Frame:
    """One decoded frame: its decode-order index, its pts and time base, and its planes (Y, U, V)."""

    index: int
    pts: int | None
    time_base: Fraction
    planes: list[np.ndarray]  # writable views into ``av_frame``'s own buffers: redaction happens in place
    rotation: int
    av_frame: object | None = None  # the decoded frame (yuv420p, writable), encoded as it is after redaction

    @property
    def seconds(self) -> float | None:
        return None if self.pts is None else float(self.pts * self.time_base)

    def rgb(self, width: int, height: int) -> np.ndarray:
        """RGB at (width, height), scaled and converted by swscale in one step."""
        if self.av_frame is None:
            raise RuntimeError("the decoded frame was already released")
        threads = codec_threads()
        return _reformatter(width, height, threads).reformat(  # type: ignore[call-arg]
            self.av_frame, width=width, height=height, format="rgb24", threads=threads or None
        ).to_ndarray()


_local = threading.local()


def _reformatter(width: int, height: int, threads: int) -> VideoReformatter:
    """One swscale context per output size, thread count and calling thread, reused frame after frame.
    ``VideoFrame.reformat`` makes a context per frame, each with its own pool of one thread per core that lives
    as long as the frame: with frames buffered for tracking that came to 25 idle threads in a single-threaded
    worker, and a pool started per keyframe."""
    cache = getattr(_local, "reformatters", None)
    if cache is None:
        cache = _local.reformatters = {}
    key = (width, height, threads)
    if key not in cache:
        cache[key] = VideoReformatter()
    return cache[key]


def _own_yuv420(frame: av.VideoFrame) -> av.VideoFrame:
    """The frame in yuv420p with buffers of its own: the decoder may still reference the buffers of a decoded
    frame for the frames that follow, so they must never be written to in place."""
    if frame.format.name != "yuv420p":
        # (a full-range yuvj420p keeps its values and its range tag; 10-bit and 4:2:2 pictures become 8-bit 4:2:0)
        trc, primaries = frame.color_trc, frame.color_primaries  # reformat clears both tags
        converted = frame.reformat(format="yuv420p")
        converted.pts = frame.pts
        if frame.time_base is not None:  # (none on frames from a bare codec context: media.splice)
            converted.time_base = frame.time_base
        converted.color_trc, converted.color_primaries = trc, primaries
        return converted
    frame.make_writable()
    return frame


def _pad_even(frame: av.VideoFrame) -> av.VideoFrame:
    """A yuv420p frame with an odd width or height, padded to even sizes by repeating its last column and row
    (H.264 4:2:0 needs even sizes; the chroma planes already cover the extra pixel). Nothing is scaled."""
    w, h = frame.width, frame.height
    out = av.VideoFrame(w + (w % 2), h + (h % 2), "yuv420p")
    src, dst = _planes(frame), _planes(out)
    y = dst[0]
    y[:h, :w] = src[0]
    y[:h, w:] = src[0][:, w - 1:w]
    y[h:, :] = y[h - 1:h, :]
    for s, d in zip(src[1:], dst[1:]):
        d[:, :] = s[: d.shape[0], : d.shape[1]]
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable numpy views (height, width) of the Y, U and V planes, without copying."""
    views = []
    for plane in frame.planes:
        buf = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        views.append(buf[:, : plane.width])
    return views


class VideoReader:
    """Iterate the frames of the first video stream. Use as a context manager."""

    def __init__(self, path: Path, threads: int | None = None, queue_size: int = 8) -> None:
        self.path = path
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise media_error(path, exc) from exc
        if not self.container.streams.video:
            self.container.close()
            raise MediaError(f"{path}: no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        threads = codec_threads() if threads is None else threads
        if threads:
            self.stream.codec_context.thread_count = threads
        cc = self.stream.codec_context
        self.width, self.height = cc.width, cc.height
        if self.width <= 0 or self.height <= 0:
            self.container.close()
            raise MediaError(f"{path}: video stream has no frame size")
        # An odd size (319x239) is padded to even by one repeated column or row (H.264 4:2:0 needs even sizes).
        self.padded = bool(self.width % 2 or self.height % 2)
        self.width, self.height = self.width + self.width % 2, self.height + self.height % 2
        self.time_base = Fraction(self.stream.time_base)
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.rate = Fraction(rate) if rate else None
        # AVI stores no presentation times: see ``_decoded``.
        self.repair_pts = "avi" in self.container.format.name.split(",")
        # Packets that did not decode (a recording cut short, a damaged stretch): skipped, counted here; the first
        # error is raised only when no frame decodes at all.
        self.damaged_packets = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get(timeout=0.05)
                except queue.Empty:
                    pass
            self._thread.join()
        self.container.close()

    def _decode(self) -> None:
        try:
            for frame in self._decoded():
                if self._stop.is_set():
                    return
                self._queue.put(frame)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put(exc)
        finally:
            self._queue.put(_SENTINEL)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """The decoded frames, in presentation order; a packet that does not decode is skipped and counted in
        ``damaged_packets``. Where the container has no presentation times of its own
        (AVI: its demuxer makes each packet's pts up from the decoding order), frames with B-frames come out with
        the pts of another frame (vtest.avi: 2, 6, 8, 10, 12, 4, ...), which no encoder accepts: there, each frame
        gets the smallest packet pts not yet given out (a decoder outputs a frame only once every frame shown
        before it was read, so that is its place in presentation order). Elsewhere the frames keep their own."""
        pending: list[int] = []
        first_error: BaseException | None = None
        decoded = 0
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # the container's data ends or breaks here: the decoder is flushed
                first_error = first_error or exc
                self.damaged_packets += 1
                packet = None
            if self.repair_pts and packet is not None and packet.pts is not None:
                heapq.heappush(pending, packet.pts)
            try:
                frames = self.stream.decode(packet)
            except av.FFmpegError as exc:  # a packet cut short or damaged: skipped, its frame is lost
                first_error = first_error or exc
                self.damaged_packets += 1
                continue
            for frame in frames:
                if self.repair_pts and pending:
                    frame.pts = heapq.heappop(pending)
                decoded += 1
                yield frame
            if packet is None:
                break
        if decoded == 0 and first_error is not None:
            raise first_error

    def frames(self) -> Iterator[Frame]:
        self._thread = threading.Thread(target=self._decode, name=f"decode-{self.path.name}", daemon=True)
        self._thread.start()
        index = 0
        untimed = False
        while True:
            item = self._queue.get()
            if item is _SENTINEL:
                return
            if isinstance(item, BaseException):
                if isinstance(item, (av.FFmpegError, OSError, ValueError)):
                    raise media_error(self.path, item) from item
                raise item
            frame: av.VideoFrame = _own_yuv420(item)
            if self.padded:
                frame = _pad_even(frame)
            time_base = Fraction(frame.time_base) if frame.time_base else self.time_base
            if index == 0:
                # A raw elementary stream (Annex B H.264) has no timestamps at all: its frames are shown at the
                # stream's rate, so that is the time each gets.
                untimed = frame.pts is None and bool(self.rate)
            if untimed:
                frame.pts = round(index / self.rate / time_base)  # type: ignore[operator]
                frame.time_base = time_base
            yield Frame(
                index=index,
                pts=frame.pts,
                time_base=time_base,
                planes=_planes(frame),
                rotation=int(item.rotation or 0),
                av_frame=frame,
            )
            index += 1


def rgb_frames(path: Path, wanted: Callable[[int], bool] = lambda index: True) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB as stored) of the frames whose decode-order index is ``wanted``: tools (training, benchmarks)
    that need pictures, not the pipeline."""
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if wanted(index):
                yield index, frame.to_ndarray(format="rgb24")


def read_timestamps(path: Path) -> list[float]:
    """Presentation times (seconds) of every frame, in decode output order."""
    out: list[float] = []
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        for frame in container.decode(vs):
            out.append(float(frame.pts * frame.time_base) if frame.pts is not None else float("nan"))
    return out


@dataclass(frozen=True)
class PacketScan:
    """What the demuxer finds without decoding: the video packets read, those flagged corrupt, and the error that
    stopped it (a file cut short)."""

    packets: int
    corrupt: int
    error: str | None


def scan_packets(path: Path) -> PacketScan:
    """Read every video packet of ``path`` without decoding (a damaged file decodes reproducibly only on one thread:
    a threaded decoder drops the frames in flight where the data breaks)."""
    packets = corrupt = 0
    error = None
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:
                    continue  # the demuxer's flush packet
                packets += 1
                corrupt += bool(packet.is_corrupt)
    except (av.FFmpegError, OSError, IndexError) as exc:
        error = str(exc) or type(exc).__name__
    return PacketScan(packets, corrupt, error)


def read_packet_times(path: Path) -> tuple[list[float], tuple[int, int], Fraction | None]:
    """Presentation times (seconds) of every video packet, without decoding, plus the frame size and time base:
    enough to check a file just written by our encoder (one frame per packet)."""
    out: list[float] = []
    try:
        with av.open(str(path)) as container:
            vs = container.streams.video[0]
            tb = Fraction(vs.time_base) if vs.time_base else None
            size = (vs.codec_context.width, vs.codec_context.height)
            for packet in container.demux(vs):
                if packet.size == 0:
                    continue  # the demuxer's flush packet
                out.append(float(packet.pts * packet.time_base) if packet.pts is not None else float("nan"))
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise media_error(path, exc) from exc
    return out, size, tb



#: FFmpeg demuxers of still images: a photo renamed .mp4 opens as a one-frame "video".
STILL_IMAGE_FORMATS = ("image2", "gif", "webp", "svg")


def stream_problem(path: Path) -> str | None:
    """Why the file cannot be catalogued as a recording although FFmpeg opens it: a still image, or frame times
    that cannot be trusted (frames without a time, or sharing one: a clip whose frames all say 0 would be
    recorded as one frame long, and requests would miss most of it); None when it is fine. Reads packets only."""
    times: list[float] = []
    try:
        with av.open(str(path)) as container:
            fmt = container.format.name
            if fmt.endswith("_pipe") or fmt in STILL_IMAGE_FORMATS:
                return f"a still image ({fmt.removesuffix('_pipe')}), not a video"
            vs = container.streams.video[0]
            for packet in container.demux(vs):
                if packet.size == 0:
                    continue  # the demuxer's flush packet
                t = packet.pts if packet.pts is not None else packet.dts  # AVI keeps only decoding times
                times.append(float(t * packet.time_base) if t is not None else float("nan"))
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise media_error(path, exc) from exc
    if not times:
        return "no video frames"
    missing = sum(1 for t in times if t != t)
    if missing:
        return f"{missing} of {len(times)} frames have no timestamp"
    ordered = sorted(times)
    repeated = sum(1 for a, b in zip(ordered, ordered[1:]) if b <= a)
    if repeated:
        return f"timestamps do not increase ({repeated} of {len(times)} frames repeat an earlier frame's time)"
    return None
