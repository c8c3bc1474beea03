import tomllib
from pathlib import Path

import pytest

from anonymizer.config import all_key_names, load_config, parse_config, starter_config
from anonymizer.errors import ConfigError

GOOD = """
archive = "arch"
[anonymise]
face_threshold = 0.3
[policy.site_kind.premises]
rnd = "5 months"
[sites.hq]
name = "HQ"
kind = "premises"
timezone = "Europe/Berlin"
location = { lat = 52.5, lon = 13.4, radius_m = 150 }
[sites.street]
name = "Main street"
kind = "external"
timezone = "America/New_York"
[cameras.lab1]
site = "hq"
purpose = "rnd"
clock = "local"
clock_offset_s = -2.5
filename_pattern = "%Y%m%d_%H%M%S"
[cameras.door]
site = "street"
purpose = "security"
"""


def test_good_config(tmp_path: Path):
    (tmp_path / "c.toml").write_text(GOOD)
    cfg = load_config(tmp_path / "c.toml")
    assert cfg.archive == (tmp_path / "arch").resolve()
    assert cfg.catalogue_url == f"sqlite:///{cfg.archive}/catalogue.sqlite"
    assert cfg.anonymise.face_threshold == 0.3 and cfg.anonymise.plate_threshold == 0.2
    assert cfg.policy.rule("premises", "rnd").duration.text() == "5 months"
    assert cfg.policy.rule("external", "security").duration.text() == "3 days"
    assert cfg.sites["hq"].lat == 52.5 and cfg.sites["hq"].radius_m == 150
    assert cfg.sites["street"].lat is None
    lab = cfg.cameras["lab1"]
    assert (lab.clock, lab.clock_offset_s, lab.filename_pattern) == ("local", -2.5, "%Y%m%d_%H%M%S")
    assert cfg.cameras["door"].clock == "utc" and cfg.cameras["door"].audio_area is False


@pytest.mark.parametrize("change, message", [
    ('colour = "red"', "colour: unknown key"),
    ("[anonymise]\nface_threshold = 5.0", "anonymise.face_threshold: 5.0 is outside"),
    ("[anonymise]\nblur = 1", "anonymise.blur: unknown key"),
    ("[policy.purpose]\nrnd = 'forever'", "policy.purpose.*expected a duration"),
    ("[sites.x]\nname = 'X'\nkind = 'moon'\ntimezone = 'UTC'", "sites.x.kind: expected one of premises, external, got 'moon'"),
    ("[sites.x]\nname = 'X'\nkind = 'premises'\ntimezone = 'Mars/Base'", "sites.x.timezone: unknown timezone"),
    ("[sites.x]\nkind = 'premises'\ntimezone = 'UTC'", "sites.x.name: missing; expected a string"),
    ("[sites.x]\nname = 'X'\nkind = 'premises'\ntimezone = 'UTC'\nlocation = { lat = 91, lon = 0 }", "sites.x.location.lat: 91 is outside"),
    ("[cameras.c]\nsite = 'nowhere'\npurpose = 'rnd'", "cameras.c.site: unknown site 'nowhere'"),
    ("[cameras.c]\nsite = 'hq'\npurpose = 'spying'", "cameras.c.purpose: expected one of rnd, marketing, security"),
    ("[cameras.c]\nsite = 'hq'\npurpose = 'rnd'\naudio_area = 'yes'", "cameras.c.audio_area: expected true or false"),
    ("[cameras.c]\nsite = 'hq'\npurpose = 'rnd'\nclock = 'gps'", "cameras.c.clock: expected one of utc, local"),
    ("[cameras.c]\nsite = 'hq'\npurpose = 'rnd'\nfilename_pattern = '%H%M'", "cameras.c.filename_pattern: .*needs %Y %m %d"),
])
def test_bad_values_name_the_key(tmp_path: Path, change: str, message: str):
    base = "[sites.hq]\nname = 'HQ'\nkind = 'premises'\ntimezone = 'UTC'\n"
    (tmp_path / "c.toml").write_text(change + "\n" + base if not change.startswith("[") else base + change)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "c.toml")


def test_all_problems_reported_at_once():
    # (the base is a plain folder: "/" itself is refused as an archive root)
    with pytest.raises(ConfigError) as info:
        parse_config({"x": 1, "anonymise": {"crf": 99}, "cameras": {"c": {"purpose": "rnd"}}}, Path("/srv/footage"))
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert any("x: unknown key" in l for l in lines) and any("cameras.c.site: missing" in l for l in lines)


def test_missing_and_invalid_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="anonymizer init"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("archive = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_starter_config_is_valid_and_names_every_key(tmp_path: Path):
    text = starter_config()
    cfg = parse_config(tomllib.loads(text), tmp_path)
    assert cfg.archive == tmp_path.resolve() and "lab1" in cfg.cameras
    for name in all_key_names():
        assert name.rsplit(".", 1)[-1] in text, name
def test_readme_documents_every_key():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    import re

    quoted = " ".join(re.findall(r"`[^`\n]+`", readme))
    missing = [n for n in all_key_names() if not re.search(rf"\b{n.rsplit('.', 1)[-1]}\b", quoted)]
    assert not missing, f"README lacks configuration keys: {missing}"
