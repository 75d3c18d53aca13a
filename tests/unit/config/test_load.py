"""Configuration errors name the field, exit 2, and never show a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from exporter.cli.demo import demo_config
from exporter.cli.main import main
from exporter.config.load import load_config
from exporter.vendors.openai.config import OpenAIConfig

SECRET = "sk-admin-SECRET-CANARY-1234"
HEAD = "sources:\n  - kind: openai\n    name: acme\n"
CheckConfig = Callable[[str], tuple[int, str]]  # the `check_config` fixture (conftest.py)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            HEAD + f"    api_key: {SECRET}\n    colour: blue\n",
            "sources[0] (acme).colour: unknown key",
        ),
        (HEAD + f"    api_key: {SECRET}\n    retries: lots\n", "sources[0] (acme).retries"),
        ("sources:\n  - kind: openai\n    api_key: k\n", "sources[0]: missing key 'name'"),
        ("sources:\n  - name: x\n    api_key: k\n", "sources[0] (x): missing key 'kind'"),
        (HEAD + "    api_key: k\n    base_url: ftp://x\n", "sources[0] (acme).base_url"),
        (HEAD + "    api_key: k\n    base_url: not a url\n", "sources[0] (acme).base_url"),
        (
            HEAD + "    api_key: k\n    interval: soon\n",
            "sources[0] (acme).interval: invalid duration",
        ),
        (HEAD + "    api_key: k\n    group_by: [modell]\n", "'modell' is not one of"),
        (
            HEAD + "    api_key: k\n    overrides: {costs: {group_by: [model]}}\n",
            "overrides.costs.group_by",
        ),
        (HEAD + "    api_key: k\n  - kind: openai\n    name: acme\n    api_key: k\n", "used twice"),
        (HEAD + "    api_key: ${NOT_SET_ANYWHERE}\n", "NOT_SET_ANYWHERE is not set"),
        (HEAD + "    api_key_file: /nonexistent/key\n", "cannot read /nonexistent/key"),
        (HEAD + f"    api_key: {SECRET}\n    api_key_file: /etc/hostname\n", "exactly one"),
        (HEAD + "    api_key: k\n    interval: 5s\n    timeout: 10s\n", "must not exceed"),
        ("sources: [\n", "not valid YAML at line"),
        ("sources: []\n", "sources"),
    ],
)
def test_bad_config_exits_2_naming_the_field(
    check_config: CheckConfig, body: str, expected: str
) -> None:
    code, err = check_config(body)
    assert code == 2
    assert err.startswith("usage-exporter: error: ") and expected in err, err
    assert SECRET not in err and err.count("\n") == 1


def test_env_expansion_overrides_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "    api_key: ${KEY}\n    interval: 1m\n")
    config = load_config(
        path,
        env={
            "KEY": SECRET,
            "USAGE_EXPORTER_STATE_DIR": "/var/x",
            "USAGE_EXPORTER_WEB__LISTEN_ADDRESS": ":1234",
        },
    )
    source = config.sources[0]
    assert isinstance(source, OpenAIConfig)
    assert source.secret() == SECRET and SECRET not in repr(config) and SECRET not in str(source)
    assert config.state_dir == Path("/var/x") and config.web.listen_address == ":1234"
    assert source.interval == 60 and source.timeout == 48 and source.backfill == 7 * 86400
    assert len(source.endpoints) == 12 and source.group_by == ["project_id", "model"]


def test_only_the_documented_env_overrides_apply_and_they_win_over_the_file(
    tmp_path: Path,
) -> None:
    """pydantic-settings' environment source, limited to USAGE_EXPORTER_STATE_DIR and
    USAGE_EXPORTER_WEB__LISTEN_ADDRESS (docs/configuration.md): environment > file > defaults."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "state_dir: /from/file\nweb: {listen_address: ':1'}\ncount_from: 2026-01-01\n"
        + HEAD
        + "    api_key: k\n"
    )
    assert load_config(path, env={}).web.listen_address == ":1"
    config = load_config(
        path,
        env={
            "USAGE_EXPORTER_STATE_DIR": "/from/env",
            "USAGE_EXPORTER_WEB__LISTEN_ADDRESS": ":2",
            "USAGE_EXPORTER_COUNT_FROM": "garbage",  # not a documented override: ignored
            "USAGE_EXPORTER_SOURCES": "[]",
            "usage_exporter_state_dir": "/lower/case",  # the prefix is matched as written
        },
    )
    assert config.state_dir == Path("/from/env") and config.web.listen_address == ":2"
    assert len(config.sources) == 1 and config.count_from is not None
    defaults = tmp_path / "d.yaml"
    defaults.write_text(HEAD + "    api_key: k\n")
    assert load_config(defaults, env={}).state_dir == Path("./usage-exporter-state")
    assert load_config(defaults, env={"USAGE_EXPORTER_STATE_DIR": "/e"}).state_dir == Path("/e")


def test_api_key_file_is_read(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text(SECRET + "\n")
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + f"    api_key_file: {key}\n")
    assert load_config(path, env={}).sources[0].secret() == SECRET


def test_example_configs_are_valid(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    key = tmp_path / "k"
    key.write_text("sk-admin-x")
    text = (
        (root / "config" / "example.yaml")
        .read_text()
        .replace("/run/secrets/openai-research-admin-key", str(key))
    )
    (tmp_path / "example.yaml").write_text(text)
    env = {
        "OPENAI_ADMIN_KEY": "k",
        "ARTHUR_AUDITOR_KEY": "a",
        "TELNYX_API_KEY": "t",
        "ANYLAYER_API_KEY": "z",
        "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-x",
    }
    example = load_config(tmp_path / "example.yaml", env=env)
    assert [s.kind for s in example.sources] == [
        "openai",
        "openai",
        "arthur",
        "telnyx",
        "anylayer",
        "anthropic",
    ]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo_config()))  # the plug-ins' targets
    demo = load_config(
        tmp_path / "demo.yaml",
        env={"SIMULATOR_URL": "http://127.0.0.1:1", "DEMO_STATE_DIR": "/tmp/x"},
    )
    assert [s.name for s in demo.sources] == [
        "acme-prod",
        "acme-research",
        "guardrails",
        "storage-eu",
        "zkscore-api",
        "anthropic-console",
        "anthropic-analytics",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "sources:\n  - {kind: openai, name: acme-prod, api_key: k, intervall: 5m}\n",
            "sources[0] (acme-prod).intervall: unknown key; did you mean `interval`?",
        ),
        (
            "sources:\n  - {kind: openai, name: a, api_key: k}\n"
            "  - {kind: opneai, name: acme-research, api_key: k}\n",
            "sources[1] (acme-research).kind: kind must be one of: ",
        ),
        (
            "sources:\n  - {kind: opneai, name: acme-research, api_key: k}\n",
            "did you mean `openai`?",
        ),
        (
            "sources:\n  - {kind: telnyx, name: store, api_key: k, buckets: auto,"
            " s3_endpiont: 'http://127.0.0.1:1/s3/{region}'}\n",
            "sources[0] (store).s3_endpiont: unknown key; did you mean `s3_endpoint`?",
        ),
        (
            "sources:\n  - {kind: openai, name: acme, api_key: k,"
            " tls_config: {ca_fil: /etc/hostname}}\n",
            "sources[0] (acme).tls_config.ca_fil: unknown key; did you mean `ca_file`?",
        ),
        (
            "state_dri: /tmp/x\nsources:\n  - {kind: openai, name: acme, api_key: k}\n",
            "state_dri: unknown key; did you mean `state_dir`?",
        ),
        (
            "sources:\n  - {kind: openai, name: acme, api_key: k, colour: blue}\n",
            "sources[0] (acme).colour: unknown key\n",  # nothing close: no suggestion
        ),
    ],
)
def test_errors_name_the_source_and_suggest_the_closest_key(
    check_config: CheckConfig, body: str, expected: str
) -> None:
    """Position alone (`sources[3]`) makes the operator count entries; the name finds the
    entry, and a typo gets the closest valid key or kind (difflib)."""
    code, err = check_config(body)
    assert code == 2
    assert expected in err, err


def test_a_state_dir_that_cannot_be_created_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "state_dir: /proc/nope\n"
        "sources:\n  - {kind: openai, name: a, api_key: k, base_url: 'http://127.0.0.1:9'}\n"
    )
    assert main(["once", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "usage-exporter: error: state_dir: cannot create /proc/nope: " in err, err
    assert "[Errno" not in err


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("[user_id]", "group_by: user_id makes one series per user or API key"),
        ("[user_id, api_key_id]", "group_by: user_id, api_key_id make one series per user"),
    ],
)
def test_the_high_cardinality_warning_reads_right(
    check_config: CheckConfig, group_by: str, expected: str
) -> None:
    code, err = check_config(
        f"sources:\n  - {{kind: openai, name: acme, api_key: k, group_by: {group_by}}}\n"
    )
    assert code == 0
    assert f"warning: sources[0] (acme).{expected}" in err, err


ANTHROPIC = "{kind: anthropic, name: acme, api_key: sk-ant-admin01-test"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{kind: openai, name: acme, api_key: k, overrides: {costs: {group_by: [api_key_id]}}}",
            "overrides.costs.group_by: api_key_id makes one series per user or API key",
        ),
        (
            "{kind: openai, name: acme, api_key: k, overrides: {completions: {lookback: 1h}}}",
            "overrides.completions.lookback: 1h is shorter than the 2h",
        ),
        (
            ANTHROPIC + ", cost_group_by: [workspace_id, description], group_by: [api_key_id]}",
            "group_by: api_key_id makes one series per user or API key",
        ),
        (
            ANTHROPIC + ", api: analytics, cost_group_by: [api_key_id, cost_type]}",
            "cost_group_by: api_key_id makes one series per user or API key",
        ),
        (ANTHROPIC + ", cost_lookback: 1m}", "cost_lookback: 1m is shorter than the 5m"),
    ],
)
def test_each_kind_names_its_own_lookbacks_and_wide_groupings(
    check_config: CheckConfig, source: str, expected: str
) -> None:
    """The core warns from what each kind's config lists (`lookbacks`, `groupings`) and what its
    plug-in calls wide (`wide_keys`): it names no vendor's keys itself."""
    code, err = check_config(f"sources:\n  - {source}\n")
    assert code == 0, err
    assert f"warning: sources[0] (acme).{expected}" in err, err


def test_a_narrow_or_default_grouping_warns_of_nothing(check_config: CheckConfig) -> None:
    """Anthropic's default grouping holds api_key_id (the dashboards join names on it): a
    default is not the operator's choice, so it is no warning."""
    code, err = check_config(
        f"sources:\n  - {ANTHROPIC}, cost_group_by: [workspace_id, description]}}\n"
        "  - {kind: arthur, name: arthur, api_key: k, group_by: [rule_type]}\n"
    )
    assert code == 0, err
    assert "makes one series" not in err and "is shorter than" not in err, err
