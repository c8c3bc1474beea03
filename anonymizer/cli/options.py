"""Click options generated from the one table of settings (anonymizer.settings.SETTINGS)."""

from __future__ import annotations

from typing import Any, Callable

import click

from anonymizer.settings import SETTINGS, Setting


def _option(setting: Setting) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    flag = "--" + setting.name.replace("_", "-")
    if setting.type is bool:
        return click.option(flag, setting.name, is_flag=True, default=None, help=f"{setting.help}.")
    if setting.choices:
        kind: Any = click.Choice(setting.choices)
    elif setting.type is int:
        kind = click.IntRange(int(setting.low) if setting.low is not None else None,
                              int(setting.high) if setting.high is not None else None)
    else:
        kind = click.FloatRange(setting.low, setting.high)
    return click.option(flag, setting.name, type=kind, default=None, show_default=False,
                        help=f"{setting.help} [default: {setting.default}]")


def settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for setting in reversed(SETTINGS):
        func = _option(setting)(func)
    return func


def settings_from(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the settings options from a command's kwargs (only those the user gave)."""
    given = {}
    for s in SETTINGS:
        value = kwargs.pop(s.name, None)
        if value is not None:
            given[s.name] = value
    return given
