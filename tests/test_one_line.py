"""File names with a newline (or another control character) keep one-line outputs on one line."""

import json
from pathlib import Path

from hypothesis import given, strategies as st

from anonymizer.cli.lines import one_line
from tests.test_ingest import archive, invoke, tiny_clip  # noqa: F401  (archive is a fixture)


@given(st.text())
def test_one_line_never_has_a_line_break(text):
    out = one_line(text)
    assert len(out.splitlines()) <= 1 and "\n" not in out and "\r" not in out
    if not any(ord(c) < 32 or 127 <= ord(c) <= 159 or c in "\u2028\u2029" for c in text):
        assert out == text


def test_escapes_are_readable():
    assert one_line("a\nb\rc\td\x1b[31m") == "a\\nb\\rc\\td\\x1b[31m"


def test_ingest_clips_list_and_errors_with_newlines_in_names(archive: Path, tmp_path: Path):  # noqa: F811
    cfg = str(archive / "anonymizer.toml")
    batch = tmp_path / "batch" / "gate"
    tiny_clip(batch / "evil\nname.mp4", seed=5)
    (batch / "evil\nname.mp4.json").write_text(json.dumps({"start": "2024-06-01T10:00:00Z"}))
    (batch / "not\na video.mp4").write_bytes(b"nothing here")
    r = invoke("ingest", str(tmp_path / "batch"), "-c", cfg)
    assert r.exit_code == 3
    out_lines = r.stdout.splitlines()
    assert len(out_lines) == 1 and "evil\\nname.mp4" in out_lines[0]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not\\na video.mp4" in errors[0]
    assert not any(line.startswith("a video.mp4") or line.startswith("name.mp4") for line in r.output.splitlines())
    listed = invoke("clips", "list", "-c", cfg)
    assert len(listed.stdout.splitlines()) == 1 and "evil\\nname.mp4" in listed.stdout
    (clip,) = json.loads(invoke("clips", "list", "-c", cfg, "--json").stdout)
    assert clip["uri"].endswith("evil\nname.mp4")  # JSON keeps the real name
    r = invoke("clips", "show", "zzzz\nzzzz", "-c", cfg)
    assert r.exit_code != 0 and len(r.stderr.strip().splitlines()) == 1
