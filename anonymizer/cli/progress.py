"""Progress bars at the edge only: shown on a terminal, silent under cron or in a pipe."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def enabled() -> bool:
    return sys.stderr.isatty()


def bar(total: int | None, desc: str, position: int = 0, leave: bool = True) -> Any:
    return tqdm(total=total, desc=desc, unit="f", position=position, leave=leave, disable=not enabled(),
                dynamic_ncols=True, file=sys.stderr)
