"""How many threads each decoder and encoder of this process may use (the batch's thread budget).

FFmpeg's default (0) is one thread per core for every codec context, in every worker process: with several
workers the machine is oversubscribed. A batch worker sets its share once, in its initializer; readers and writers
opened afterwards use it unless they are given a count of their own.
"""

from __future__ import annotations

_codec_threads = 0


def set_codec_threads(threads: int) -> None:
    """Threads per decoder and per encoder from now on in this process (0: FFmpeg's default, one per core)."""
    global _codec_threads
    if threads < 0:
        raise ValueError(f"codec threads must be >= 0, got {threads}")
    _codec_threads = threads


def codec_threads() -> int:
    return _codec_threads
