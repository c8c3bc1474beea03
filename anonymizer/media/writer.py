"""Encode YUV 4:2:0 planes with PyAV into a temporary file that is renamed into place only when complete."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from anonymizer import safe_files
from anonymizer.errors import MediaError
from anonymizer.media.threads import codec_threads

CODECS = ("libx264", "libx265", "mpeg4")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def temp_path_for(target: Path) -> Path:
    """Hidden sibling of the target with the same suffix (the muxer picks the format from the suffix)."""
    return target.with_name(f".{target.stem}.partial-{os.getpid()}{target.suffix}")


def describe_colour(encoder: av.VideoCodecContext, frame: av.VideoFrame) -> None:
    """Tag the encoder's output with the first frame's colour range and description (before it opens): the
    values are encoded as they are, so a full-range picture (``yuvj420p``, IP cameras) tagged limited would show
    its blacks and whites crushed."""
    encoder.color_range = frame.color_range
    encoder.colorspace = frame.colorspace
    encoder.color_primaries = frame.color_primaries
    encoder.color_trc = frame.color_trc


class TempOutput:
    """An output written to ``tmp`` and published at ``target`` once finished (``VideoWriter``, ``SpliceWriter``):
    subclasses set ``tmp``, ``target`` and ``_closed`` and define ``finish()``."""

    tmp: Path
    target: Path
    _closed: bool
    _published = False

    def finish(self) -> Path:
        raise NotImplementedError

    def publish(self) -> Path:
        """Rename the finished temporary file into place (atomic on one filesystem)."""
        if not self._closed:
            self.finish()
        safe_files.publish(self.tmp, self.target)  # flushed, renamed, folder flushed: survives a power cut
        self._published = True
        return self.target


class VideoWriter(TempOutput):
    """Write frames to ``target`` atomically: ``commit()`` renames the finished file into place, ``abort()`` (or
    leaving the context with an exception) deletes it."""

    def __init__(
        self,
        target: Path,
        width: int,
        height: int,
        time_base: Fraction,
        rate: Fraction | None,
        codec: str = "libx264",
        crf: int = 23,
        preset: str = "veryfast",
        rotation: int = 0,
        threads: int | None = None,
        mode: int = 0o640,
    ) -> None:
        self.target = target
        self.tmp = temp_path_for(target)
        self.mode = mode
        safe_files.output_dirs(target.parent)
        try:
            # Created with restrictive permissions before FFmpeg opens (and keeps) it.
            os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode))
            self.container = av.open(str(self.tmp), mode="w")
        except (av.FFmpegError, OSError) as exc:
            self.tmp.unlink(missing_ok=True)
            raise MediaError(f"{target}: cannot create output ({exc})") from exc
        # Identifying container metadata is dropped: nothing is copied from the input.
        self.container.metadata.clear()
        options = {"crf": str(crf), "preset": preset} if codec in ("libx264", "libx265") else {}
        if codec == "libx264":
            # Never carry the input's captions or user-data SEI (cameras put serials and GPS there).
            options.update({"a53cc": "0", "udu_sei": "0"})
        stream = self.container.add_stream(codec, rate=rate or Fraction(25), options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        # Slice threads, not frame threads: each frame thread of libx264 holds frames of its own (at 4K, 200 MiB
        # more peak RSS on 2 cores, growing with the cores), for about the same speed and 1 % more bytes.
        stream.thread_type = "SLICE"
        threads = codec_threads() if threads is None else threads
        if threads:
            stream.codec_context.thread_count = threads
        if rotation:
            stream.set_display_rotation(rotation)
        self.stream = stream
        self.time_base = time_base
        self.width, self.height = width, height
        self.frames = 0
        self._closed = False
        self._audio_in: av.container.InputContainer | None = None

    def add_audio_from(self, source: Path) -> None:
        """Copy the audio streams of ``source`` unchanged (only when the user asked to keep audio), muxed along
        with the video as it is written (``_mux_audio``)."""
        inp = av.open(str(source))
        if not inp.streams.audio:
            inp.close()
            return
        self._audio_in = inp
        self._audio_map = {s.index: self.container.add_stream_from_template(s) for s in inp.streams.audio}
        self._audio_packets = inp.demux(list(inp.streams.audio))
        self._audio_next: av.Packet | None = None

    def write_frame(self, frame: av.VideoFrame) -> None:
        """Encode a yuv420p frame as it is (the pipeline redacts decoded frames in place), keeping its pts."""
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose frame types
        if self.frames == 0:
            describe_colour(self.stream.codec_context, frame)
        try:
            self._mux_video(self.stream.encode(frame))
        except av.FFmpegError as exc:
            raise MediaError(f"{self.target}: encoding failed ({exc})") from exc
        self.frames += 1

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            until = float(packet.dts * packet.time_base) if packet.dts is not None and packet.time_base else None
            self.container.mux(packet)
            if until is not None:
                self._mux_audio(until)

    def _mux_audio(self, until: float | None = None) -> None:
        """Mux the kept audio up to ``until`` seconds (all of it when None). Fed in time order with the video:
        the muxer holds at most 10 s waiting for the other stream, so audio muxed after the whole video landed
        seconds away from its pictures in the file (a player streaming it stalls or drops it)."""
        if self._audio_in is None:
            return
        while True:
            if self._audio_next is None:
                self._audio_next = next(self._audio_packets, None)
                if self._audio_next is None:
                    self._close_audio()
                    return
            packet = self._audio_next
            if packet.dts is not None:
                if until is not None and float(packet.dts * packet.time_base) > until:
                    return
                packet.stream = self._audio_map[packet.stream_index]
                self.container.mux(packet)
            self._audio_next = None

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    def finish(self) -> Path:
        """Flush the encoder and close the temporary file (still unpublished); returns its path."""
        try:
            self._mux_video(self.stream.encode(None))
            self._mux_audio()
            self.container.close()
        except av.FFmpegError as exc:
            self.abort()
            raise MediaError(f"{self.target}: finishing the output failed ({exc})") from exc
        self._closed = True
        return self.tmp

    def commit(self) -> Path:
        self.finish()
        return self.publish()

    def abort(self) -> None:
        """Discard the temporary file unless it was published; safe to call more than once."""
        if self._published:
            return
        self._close_audio()
        if not self._closed:
            self._closed = True
            try:
                self.container.close()
            except av.FFmpegError:
                pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self._closed:
            self.abort()
