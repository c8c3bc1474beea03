"""``config check`` (issue 30 item 9): every problem of a file in one run, one per line, and policy entries naming
a site or camera that does not exist are errors (a typo would silently apply the default retention)."""

from pathlib import Path

import pytest

from anonymizer.config import load_config
from anonymizer.errors import ConfigError
from tests.test_ingest import invoke

BAD = """
[policy.purpose]
security = "0 days"
rnd = "3 fortnights"
[policy.site]
nosuchsite = "1 year"
hq = "2 years"
[policy.camera]
ghost = "1 week"
gate = "2 weeks"
[sites.hq]
name = "HQ"
kind = "premises"
timezone = "Mars/Olympus"
location = { lat = 123, lon = 13.4 }
[cameras.gate]
site = "nowhere"
purpose = "security"
filename_pattern = "%Q"
"""


def test_config_check_names_every_problem_once_per_line(tmp_path: Path):
    (tmp_path / "c.toml").write_text(BAD)
    r = invoke("config", "check", "-c", str(tmp_path / "c.toml"))
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert "\\n" not in r.stderr
    assert all(line.startswith("error: ") for line in lines), lines
    expected = ["policy.purpose.security", "policy.purpose.rnd", "policy.site.nosuchsite", "policy.camera.ghost",
                "sites.hq.timezone", "sites.hq.location.lat", "cameras.gate.site", "cameras.gate.filename_pattern"]
    for key in expected:
        assert len([line for line in lines if key in line]) == 1, (key, lines)
    assert len(lines) == len(expected), lines


def test_policy_for_an_unknown_camera_or_site_is_an_error(tmp_path: Path):
    good = ('[sites.hq]\nname = "HQ"\nkind = "premises"\ntimezone = "UTC"\n'
            '[cameras.gate]\nsite = "hq"\npurpose = "security"\n')
    (tmp_path / "c.toml").write_text(good + '[policy.camera]\nghost = "1 week"\n')
    with pytest.raises(ConfigError, match=r"policy\.camera\.ghost: unknown camera"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "c.toml").write_text(good + '[policy.site]\nnosuchsite = "1 week"\n')
    with pytest.raises(ConfigError, match=r"policy\.site\.nosuchsite: unknown site"):
        load_config(tmp_path / "c.toml")
    (tmp_path / "c.toml").write_text(good + '[policy.camera]\ngate = "1 week"\n[policy.site]\nhq = "1 year"\n')
    assert load_config(tmp_path / "c.toml").policy.camera
