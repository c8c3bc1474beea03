"""What the README and the guides claim about exit codes, quiet mode and times, read from them and checked against
the code (issue 30): a claim changed in one place and not in the other fails here."""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from anonymizer import errors
from anonymizer.cli.main import cli
from anonymizer.domain.local_time import local_label
from tests.purge_helpers import add_clip, open_archive
from tests.test_ingest import archive, invoke  # noqa: F401  (archive is a fixture)

ROOT = Path(__file__).resolve().parent.parent
CODES = re.compile(r"Exit codes: (.*?)\.\s*$", re.S)


def codes_in(text: str) -> dict[int, str]:
    """``{code: meaning}`` of the first "Exit codes: 0 done; 1 error; ..." sentence of a text."""
    m = re.search(r"Exit codes: ([^\n]*(?:\n[^\n]+)*?\.)(?:\s|$)", text)
    assert m, text[:200]
    sentence = " ".join(m.group(1).split())
    return {int(c): meaning.strip() for c, meaning in re.findall(r"(\d+) ([^;]+)", sentence)}


def test_the_exit_codes_of_the_readme_are_the_cli_s():
    readme = codes_in((ROOT / "README.md").read_text())
    helped = codes_in(CliRunner().invoke(cli, ["--help"], terminal_width=200).output)
    assert set(readme) == set(helped) == {errors.EXIT_OK, errors.EXIT_ERROR, errors.EXIT_USAGE, errors.EXIT_PARTIAL,
                                          errors.EXIT_TEMPFAIL}
    assert readme[errors.EXIT_TEMPFAIL].startswith("locked") and helped[errors.EXIT_TEMPFAIL].startswith("locked")


def test_the_purge_exit_codes_of_the_operations_guide_are_the_command_s():
    guide = codes_in((ROOT / "docs" / "operations.md").read_text())
    helped = codes_in(CliRunner().invoke(cli, ["purge", "--help"], terminal_width=200).output)
    assert set(guide) == set(helped) == {errors.EXIT_OK, errors.EXIT_PARTIAL, errors.EXIT_TEMPFAIL}


def cron_args(doc: Path) -> list[str]:
    """The arguments after ``anonymizer`` on the purge line of a guide's crontab example."""
    line = next(l for l in doc.read_text().splitlines() if re.match(r"^\d+ \d+ \* \* \*", l) and " purge" in l)
    words = shlex.split(line)
    return words[next(i for i, w in enumerate(words) if w.endswith("/anonymizer")) + 1:]


def test_the_cron_line_of_the_guides_is_quiet_on_a_quiet_night(tmp_path: Path):
    args = cron_args(ROOT / "README.md")
    assert args == cron_args(ROOT / "docs" / "operations.md") and "-q" in args
    root = tmp_path / "arch"
    cat = open_archive(root)
    due = add_clip(cat, root, 1, "gate", datetime.now(timezone.utc) - timedelta(days=10))
    cat.close()
    r = CliRunner().invoke(cli, args, env={"ANONYMIZER_CONFIG": str(root / "anonymizer.toml")})
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    assert not Path(due.uri).exists()  # quiet, not idle: the due clip went


def test_the_local_time_format_the_dpo_guide_shows_is_what_requests_print(archive: Path):  # noqa: F811
    shown = re.search(r"local time next to UTC: `([^`]+)`", (ROOT / "docs" / "dpo.md").read_text()).group(1)
    pattern = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]{3,4} \([+-]\d\d:\d\d\)")
    assert pattern.fullmatch(shown)
    assert local_label(datetime(2025, 3, 1, 13, 5, tzinfo=timezone.utc), "Europe/Paris") == shown
    r = invoke("requests", "new", "-c", str(archive / "anonymizer.toml"), "--kind", "access", "--received",
               "2024-12-06", "--from", "2024-12-01T10:00", "--to", "2024-12-01T10:30", "--place", "hq")
    assert r.exit_code == 0, r.output
    assert pattern.search(r.stdout), r.stdout
