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

    def add_audio_from(self, source: Path) -> None:
        """Copy the audio streams of ``source`` unchanged (only when the user asked to keep audio)."""
        with av.open(str(source)) as inp:
            if not inp.streams.audio:
                return
            self._audio_source = source
            self._audio_map = {s.index: self.container.add_stream_from_template(s) for s in inp.streams.audio}

    def write_frame(self, frame: av.VideoFrame) -> None:
        """Encode a yuv420p frame as it is (the pipeline redacts decoded frames in place), keeping its pts."""
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose frame types
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except av.FFmpegError as exc:
            raise MediaError(f"{self.target}: encoding failed ({exc})") from exc
        self.frames += 1

    def _mux_audio(self) -> None:
        if not getattr(self, "_audio_map", None):
            return
        with av.open(str(self._audio_source)) as inp:
            streams = [s for s in inp.streams.audio if s.index in self._audio_map]
            for packet in inp.demux(streams):
                if packet.dts is None:
                    continue
                packet.stream = self._audio_map[packet.stream_index]
                self.container.mux(packet)

    def finish(self) -> Path:
        """Flush the encoder and close the temporary file (still unpublished); returns its path."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
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
