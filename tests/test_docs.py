"""Every command is documented (a help text, every option explained, a mention in the README), every command shown in
the README and the guides exists with the options it is shown with, and the generated references are current."""

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anonymizer.cli.main import cli

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
GUIDES = sorted((ROOT / "docs").glob("**/*.md"))
DOCS = [ROOT / "README.md", *GUIDES]


def walk(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, prefix + (name,))


COMMANDS = list(walk(cli))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


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


# ---------------------------------------------------------------------------- the commands the guides show

SHELL_BLOCKS = ("sh", "console", "cron")
SEPARATORS = {"|", "||", "&", "&&", ";"}
REDIRECTIONS = {">", ">>", "<", ">&", "2>"}


def shell_lines(text: str):
    """(line number, command line) of every ```sh / ```console / ```cron block; a line ending in \\ is joined with
    the next. In a console block only the lines after a `$ ` prompt are commands; in a crontab, what follows the
    five time fields."""
    block, pending, start = None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            block = stripped[3:].strip() if block is None else None
            continue
        if block not in SHELL_BLOCKS:
            continue
        if block == "console" and not pending:
            if not stripped.startswith("$ "):
                continue
            stripped = stripped[2:]
        if block == "cron":  # minute hour day month weekday command
            fields = stripped.split(None, 5)
            if stripped.startswith("#") or len(fields) < 6:
                continue
            stripped = fields[5]
        if not pending:
            start = number
        pending = f"{pending} {stripped}" if pending else stripped
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        yield start, pending
        pending = ""


def anonymizer_calls(line: str) -> list[list[str]]:
    """The words of each `anonymizer ...` command of a shell line (after VAR=value prefixes, up to a pipe,
    a `;` or a redirection); commands of other programs (make, crontab, systemctl, psql, python) are left out."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    calls, current = [], []
    for word in words + [";"]:
        if word in SEPARATORS:
            while current and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", current[0]):
                current.pop(0)
            if current and Path(current[0]).name == "anonymizer":
                calls.append(current)
            current = []
        else:
            current.append(word)
    for call in calls:  # a redirection and its target are not the command's
        for i, word in enumerate(call):
            if word in REDIRECTIONS or (word.isdigit() and i + 1 < len(call) and call[i + 1] in REDIRECTIONS):
                del call[i:]
                break
    return calls


def _options(cmd: click.Command) -> dict[str, click.Parameter]:
    found: dict[str, click.Parameter] = {}
    for param in cmd.params:
        if isinstance(param, click.Option):
            for opt in param.opts + param.secondary_opts:
                found[opt] = param
    return found


def _takes_value(param: click.Parameter) -> bool:
    return not (getattr(param, "is_flag", False) or getattr(param, "count", False))


def check_call(words: list[str]) -> list[str]:
    """What is wrong with one `anonymizer ...` command: an unknown command or subcommand, an unknown option."""
    cmd: click.Command = cli
    path = ["anonymizer"]
    problems = []
    i = 1
    while i < len(words):
        word = words[i]
        if word.startswith("-") and word != "-":
            opt = word.split("=", 1)[0]
            if opt in ("--help", "-h"):
                return problems
            options = _options(cmd)
            param = options.get(opt)
            if param is None and re.fullmatch(r"-[A-Za-z]{2,}", opt) and all("-" + c in options for c in opt[1:]):
                param = options["-" + opt[1]]  # bundled short flags: -vv
            if param is None:
                problems.append(f"{' '.join(path)}: no option {opt}")
                i += 1
            else:
                i += 2 if _takes_value(param) and "=" not in word else 1
        elif isinstance(cmd, click.Group):
            if word not in cmd.commands:
                return problems + [f"{' '.join(path)}: no command {word!r}"]
            cmd = cmd.commands[word]
            path.append(word)
            i += 1
        else:
            i += 1  # an argument
    if isinstance(cmd, click.Group):
        problems.append(f"{' '.join(path)}: a subcommand is missing")
    return problems


def shown_commands():
    for doc in DOCS:
        for number, line in shell_lines(doc.read_text()):
            for call in anonymizer_calls(line):
                yield f"{rel(doc)}:{number}", call


SHOWN = list(shown_commands())


@pytest.mark.parametrize("where,words", SHOWN, ids=[w for w, _ in SHOWN])
def test_every_command_shown_in_the_docs_exists(where, words):
    problems = check_call(words)
    assert not problems, f"{where}: {' '.join(words)}: " + "; ".join(problems)


def test_the_guides_show_commands():
    assert len(SHOWN) > 30 and {rel(ROOT / "README.md")} < {w.split(":")[0] for w, _ in SHOWN}


@pytest.mark.parametrize("line, problem", [
    ("anonymizer purge --dry-runn", "no option --dry-runn"),
    ("anonymizer request find r1", "no command 'request'"),
    ("anonymizer requests", "a subcommand is missing"),
    ("anonymizer requests find r1 --json --place gate", "anonymizer requests find: no option --place"),
    ("ANONYMIZER_CONFIG=/a.toml /opt/x/bin/anonymizer -q purgee", "no command 'purgee'"),
    ("anonymizer audit export --csv > audit.json", "no option --csv"),
])
def test_the_command_check_finds_wrong_commands(line, problem):
    (call,) = anonymizer_calls(line)
    assert any(problem in p for p in check_call(call)), check_call(call)


@pytest.mark.parametrize("line", [
    "anonymizer -q purge --dry-run --list",
    "anonymizer run /data/b -j 2 --plate-fine platedet --json  # a comment's words --are-not-options",
    "anonymizer requests review r1 --no-tracks --out=/tmp/r.html",
    "anonymizer audit export --json > audit.json",
    "make test",
    "crontab -e",
    "python -m anonymizer.training.platenet --out models/platenet.onnx",
])
def test_the_command_check_passes_right_commands(line):
    for call in anonymizer_calls(line):
        assert check_call(call) == [], line


# ---------------------------------------------------------------------------- generated and bounded documents


def _gen_configuration():
    spec = importlib.util.spec_from_file_location("gen_configuration", ROOT / "docs" / "gen_configuration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_is_generated_from_the_settings():
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert text == _gen_configuration().render(), (
        "docs/configuration.md is out of date: run .venv/bin/python docs/gen_configuration.py")


def test_configuration_example_is_a_valid_configuration(tmp_path):
    from anonymizer.config import parse_config

    text = (ROOT / "docs" / "configuration.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = parse_config(tomllib.loads(example), tmp_path)
    assert "gate" in cfg.cameras


def test_every_model_of_the_manifest_is_in_the_models_guide():
    guide = (ROOT / "docs" / "models.md").read_text()
    manifest = tomllib.loads((ROOT / "models" / "manifest.toml").read_text())["models"]
    for name, model in manifest.items():
        assert f"`{name}`" in guide, name
        assert f"(../models/{model['card']})" in guide, f"{name}: no link to its card models/{model['card']}"


@pytest.mark.parametrize("doc, most", [("README.md", 200), ("benchmarks/RESULTS.md", 400),
                                       ("benchmarks/README.md", 300)]
                         + [(rel(p), 400) for p in GUIDES if "decisions" not in p.parts]
                         + [(rel(p), 40) for p in GUIDES if "decisions" in p.parts and p.name != "README.md"])
def test_documents_stay_short(doc, most):
    lines = len((ROOT / doc).read_text().splitlines())
    assert lines < most, f"{doc}: {lines} lines, fewer than {most} wanted"


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "benchmarks" / "README.md"], ids=rel)
def test_no_commit_hashes_in_the_guides(doc):
    """Guides describe what is, not when it changed: commit hashes belong to benchmarks/RESULTS.md and git."""
    text = doc.read_text()
    hashes = [h for h in re.findall(r"(?<![\w/.-])[0-9a-f]{7,40}(?![\w/.-])", text)
              if re.search(r"\d", h) and re.search(r"[a-f]", h)]
    assert not hashes, f"{rel(doc)}: {hashes}"


def _anchor(heading: str) -> str:
    """The anchor a Markdown heading gets (GitHub's rule: lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", [*DOCS, ROOT / "benchmarks" / "README.md", ROOT / "benchmarks" / "RESULTS.md"],
                         ids=rel)
def test_links_between_the_guides_resolve(doc):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            if anchor not in {_anchor(h) for h in re.findall(r"^#+ (.*)$", linked.read_text(), re.M)}:
                broken.append(target)
    assert not broken, f"{rel(doc)}: broken links {broken}"
