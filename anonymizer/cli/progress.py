"""Progress at the edge only. On a terminal: bars, clips counted as clips and a clip's frames per stage. Elsewhere
(a pipe, cron): one line on stderr as each clip starts, none under ``-q``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from tqdm import tqdm

from anonymizer.cli.lines import echo_line, quiet

if TYPE_CHECKING:
    from anonymizer.pipelines.anonymise import ProgressFn


def enabled() -> bool:
    return sys.stderr.isatty()


def bar(total: int | None, desc: str, position: int = 0, leave: bool = True, unit: str = "clip") -> Any:
    return tqdm(total=total, desc=desc, unit=unit, position=position, leave=leave, disable=not enabled(),
                dynamic_ncols=True, file=sys.stderr)


def above(fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` with what it prints shown above the bars, not across them."""
    def wrapped(*args: Any) -> None:
        with tqdm.external_write_mode():
            fn(*args)
    return wrapped


class ClipProgress:
    """The clips of a batch as they go: ``start`` (a batch's ``on_start``) names each clip as it starts, off a
    terminal; ``frames`` (its ``clip_progress``) gives the clip a bar on a terminal, which names the stage the
    anonymise loop reports ("detect", "second pass", "write", "verify") and counts that stage's frames."""

    def __init__(self, clips: int) -> None:
        self.clips = clips
        self.started = 0
        self._bar: Any = None
        self._name = ""
        self._stage = ""

    def start(self, src: Path) -> None:
        self.close()
        self.started += 1
        if not enabled() and not quiet():
            echo_line(f"{src}: anonymising ({self.started} of {self.clips})", err=True)

    def frames(self, src: Path) -> ProgressFn | None:
        if not enabled():
            return None
        self.close()
        self._name, self._stage = src.name, ""
        self._bar = bar(None, src.name, position=1, leave=False, unit="frame")
        return self.update

    def update(self, stage: str, done: int, total: int | None) -> None:
        b = self._bar
        if b is None:
            return
        if stage != self._stage:  # a new stage counts its own frames from 0
            self._stage = stage
            b.reset(total=total)
            b.set_description(f"{self._name}: {stage}", refresh=False)
        b.update(done - b.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
