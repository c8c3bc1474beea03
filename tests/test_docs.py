"""Every command is documented: a help text, every option explained, and a mention in the README."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anonymizer.cli.main import cli

README = (Path(__file__).parents[1] / "README.md").read_text()


def walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, prefix + (name,))


COMMANDS = list(walk(cli))


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help_and_documented_options(path, cmd):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts} has no help"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS if len(p) == 1], ids=lambda p: p[0])
def test_top_level_command_is_in_readme(path):
    assert f"anonymizer {path[0]}" in README


@pytest.mark.parametrize("doc", sorted(p.relative_to(Path(__file__).parents[1]).as_posix()
                                       for p in Path(__file__).parents[1].glob("**/*.md")
                                       if not {".venv", ".bench", "node_modules"} & set(p.parts)))
def test_every_code_block_of_a_guide_is_closed(doc):
    """An unclosed ``` fence turns the rest of a guide into one code block (benchmarks/README.md had one)."""
    lines = (Path(__file__).parents[1] / doc).read_text().splitlines()
    fences = [i + 1 for i, line in enumerate(lines) if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, f"{doc}: a code block opened at line {fences[-1]} is never closed"
