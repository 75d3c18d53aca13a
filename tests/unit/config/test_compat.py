"""Config compatibility: every config example that ever shipped still loads, a renamed key is
read under its new name with a deprecation note (never silently ignored), and `--syntax-only`
checks the structure without secrets."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from exporter.config.checks import generic_warnings
from exporter.config.load import RENAMED_KEYS, ConfigError, Rename, load_config

HISTORY = Path(__file__).resolve().parents[2] / "fixtures" / "config-history"
MANIFEST = json.loads((HISTORY / "MANIFEST.json").read_text())
ROOT = Path(__file__).resolve().parents[3]


def env_for(text: str) -> dict[str, str]:
    """A value for every `${VAR}` an example uses: URLs and directories where the name says so
    (they must validate), anything for secrets."""
    env = {}
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        if name.endswith("URL"):
            env[name] = "http://127.0.0.1:9"
        elif name.endswith("DIR"):
            env[name] = "/tmp/usage-exporter-history"
        else:
            env[name] = "placeholder-secret"
    return env


def test_the_history_is_what_its_manifest_says() -> None:
    files = sorted(p.name for p in HISTORY.glob("*.yaml"))
    assert files == sorted(MANIFEST)
    assert len(files) >= 10
    for name, entry in MANIFEST.items():
        assert hashlib.sha256((HISTORY / name).read_bytes()).hexdigest() == entry["sha256"]
    paths = {entry["path"] for entry in MANIFEST.values()}
    assert {"config/example.yaml", "exporter/demo.yaml", "README.md"} <= paths


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_config_example_that_ever_shipped_loads(name: str) -> None:
    path = HISTORY / name
    notes: list[str] = []
    config = load_config(path, env=env_for(path.read_text()), syntax_only=True, notes=notes)
    assert config.sources
    # only the notes of keys renamed since (RENAMED_KEYS), one per renamed key given
    renamed = {r.old for r in RENAMED_KEYS}
    found = [re.search(r"\.(\w+): deprecated since ", n) for n in notes]
    assert all(found), notes
    assert {m.group(1) for m in found if m} <= renamed, notes


TEST_RENAMES = (
    Rename("source", "scrape_interval", "interval", "9.9.0"),
    Rename("source.tls_config", "ca", "ca_file", "9.9.0"),
    Rename("", "state_directory", "state_dir", "9.9.0"),
)


def write(tmp: Path, text: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(text)
    return path


def test_a_renamed_key_is_read_under_its_new_name_with_a_note(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "state_directory: /tmp/x\n"
        "sources:\n"
        "  - kind: openai\n    name: a\n    api_key: k\n    scrape_interval: 90s\n"
        "    tls_config: {ca: /nope.pem}\n",
    )
    notes: list[str] = []
    config = load_config(path, env={}, syntax_only=True, notes=notes, renames=TEST_RENAMES)
    assert config.sources[0].interval == 90
    assert str(config.state_dir) == "/tmp/x"
    tls = config.sources[0].tls_config
    assert tls is not None and str(tls.ca_file) == "/nope.pem"
    assert any(n.startswith("sources[0].scrape_interval: deprecated since 9.9.0") for n in notes)
    assert any(n.startswith("sources[0].tls_config.ca: deprecated") for n in notes)
    assert any(n.startswith("state_directory: deprecated") for n in notes)
    # Without the rename table the same file is refused: the old name is never ignored.
    with pytest.raises(ConfigError, match=r"sources\[0\] \(a\)\.scrape_interval: unknown key"):
        load_config(path, env={}, syntax_only=True)


@pytest.mark.parametrize("kind", ["openai", "arthur", "anthropic"])
def test_info_interval_is_read_as_resource_interval_with_a_warning(
    tmp_path: Path, kind: str
) -> None:
    """The shipped rename: names and limits are resources (docs/architecture.md, "Words")."""
    path = write(
        tmp_path,
        f"sources:\n  - kind: {kind}\n    name: a\n    api_key: k\n    info_interval: 2m\n",
    )
    notes: list[str] = []
    config = load_config(path, env={}, syntax_only=True, notes=notes)
    source = config.sources[0]
    assert source.model_dump()["resource_interval"] == 120
    assert notes == [
        "sources[0].info_interval: deprecated since 0.2.0, read as 'resource_interval': rename it"
        " (the old name will be removed in a future major version)"
    ]


def test_old_and_new_name_together_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  - kind: openai\n    name: a\n    api_key: k\n"
        "    scrape_interval: 90s\n    interval: 60s\n",
    )
    with pytest.raises(ConfigError, match=r"renamed to 'interval' in 9\.9\.0; both are given"):
        load_config(path, env={}, renames=TEST_RENAMES)


def test_the_shipped_rename_table_is_well_formed() -> None:
    for rename in RENAMED_KEYS:
        assert rename.old != rename.new and re.fullmatch(r"\d+\.\d+\.\d+", rename.since)


def test_syntax_only_passes_the_example_without_environment() -> None:
    example = ROOT / "config" / "example.yaml"
    with pytest.raises(ConfigError, match="environment variable"):
        load_config(example, env={})
    config = load_config(example, env={}, syntax_only=True)
    assert len(config.sources) >= 4


def test_syntax_only_still_checks_the_structure(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  - kind: openai\n    name: a\n    api_key: ${NOT_SET}\n    interval: soon\n",
    )
    with pytest.raises(ConfigError, match=r"sources\[0\] \(a\)\.interval: invalid duration"):
        load_config(path, env={}, syntax_only=True)
    path = write(tmp_path, "sources:\n  - kind: openai\n    name: a\n    api_key_file: /nope/key\n")
    assert load_config(path, env={}, syntax_only=True).sources[0].name == "a"
    with pytest.raises(ConfigError, match="api_key_file: cannot read /nope/key"):
        load_config(path, env={})


def test_warnings_for_likely_mistakes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n"
        "  - kind: openai\n    name: a\n    api_key: k\n"
        "    base_url: https://api.openai.com/v1\n    lookback: 30m\n"
        "    group_by: [project_id, user_id]\n"
        "    overrides: {costs: {group_by: [api_key_id]}}\n"
        "  - kind: telnyx\n    name: t\n    api_key: k\n    buckets: auto\n"
        "    base_url: https://api.telnyx.com/v2/\n"
        "    tls_config: {insecure_skip_verify: true}\n"
        "  - kind: openai\n    name: fine\n    api_key: k\n",
    )
    found = generic_warnings(load_config(path, env={}))
    text = "\n".join(found)
    assert "sources[0] (a).base_url: base_url ends in /v1" in text
    assert "using https://api.openai.com" in text
    assert "sources[0] (a).lookback: 30m is shorter than the 2h" in text
    assert "sources[0] (a).group_by: user_id makes one series per user or API key" in text
    assert "sources[0] (a).overrides.costs.group_by: api_key_id" in text
    assert "sources[1] (t).base_url: base_url ends in /v2" in text
    insecure = "sources[1] (t).tls_config.insecure_skip_verify: TLS CERTIFICATES ARE NOT VERIFIED"
    assert insecure in text
    assert not [w for w in found if w.startswith("sources[2]")]


def test_a_proxy_password_goes_to_the_log_redactor(tmp_path: Path) -> None:
    from exporter.config.load import secrets

    path = write(
        tmp_path,
        "sources:\n  - kind: openai\n    name: a\n    api_key: sk-admin-k1\n"
        "    proxy_url: http://ops:pr0xy-PASS@127.0.0.1:3128\n",
    )
    assert set(secrets(load_config(path, env={}))) == {"sk-admin-k1", "pr0xy-PASS"}
    path = write(
        tmp_path,
        "sources:\n  - kind: openai\n    name: a\n    api_key: k\n"
        "    proxy_url: http://127.0.0.1:3128\n    proxy_from_environment: true\n",
    )
    with pytest.raises(ConfigError, match="give proxy_url or proxy_from_environment, not both"):
        load_config(path, env={})
