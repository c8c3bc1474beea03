"""One-line outputs: a file name may hold a newline or another control character, which would break a line-per-item
output (and let a file name forge a line). Such characters are shown escaped (``\\n``, ``\\x1b``)."""

from __future__ import annotations

import logging
import re

import click

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: object) -> str:
    """``text`` with every control character (newline included) escaped, so it prints on one line."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), m.group().encode("unicode_escape").decode("ascii")),
                        str(text))


def echo_line(text: object, err: bool = False) -> None:
    click.echo(one_line(text), err=err)


def quiet() -> bool:
    """Whether ``-q`` was given: print nothing unless a person must act (an error, a failure, a risk)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and isinstance(ctx.find_root().obj, dict) and ctx.find_root().obj.get("quiet"))


class OneLineFormatter(logging.Formatter):
    """Log records on one line each: the message's control characters escaped (a traceback, at -vv, stays as is)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))
