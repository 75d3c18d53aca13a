"""OpenAI settings for the API as it is today: the decisions endpoint, `api_source` grouping and
`user_id` on costs are accepted where the API accepts them and refused, naming the field, where
it does not; a costs grouping the API may refuse gets a warning from check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli.main import main
from exporter.config.checks import vendor_warnings
from exporter.config.load import load_config
from exporter.vendors.openai.api import OPENAI_GROUP_BY
from exporter.vendors.openai.config import OpenAIConfig

HEAD = "sources:\n  - kind: openai\n    name: acme\n    api_key: sk-admin-k\n"


def check(tmp_path: Path, body: str) -> tuple[int, str, str]:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + body)
    code = main(["check-config", str(path)])
    return code, path.read_text(), str(path)


def test_decisions_is_an_endpoint_and_in_the_default_list(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD)
    default = load_config(path, env={}).sources[0]
    assert isinstance(default, OpenAIConfig)
    assert "decisions" in default.endpoints and len(default.endpoints) == 12
    path.write_text(HEAD + "    endpoints: [decisions, costs]\n")
    listed = load_config(path, env={}).sources[0]
    assert isinstance(listed, OpenAIConfig) and listed.endpoints == ["decisions", "costs"]
    # a list written before decisions existed keeps its meaning: decisions is not added to it
    path.write_text(HEAD + "    endpoints: [completions, costs]\n")
    older = load_config(path, env={}).sources[0]
    assert isinstance(older, OpenAIConfig) and older.endpoints == ["completions", "costs"]


def test_group_keys_of_decisions_are_those_of_completions() -> None:
    assert OPENAI_GROUP_BY["decisions"] == OPENAI_GROUP_BY["completions"]
    with_source = {e for e, keys in OPENAI_GROUP_BY.items() if "api_source" in keys}
    assert with_source == {"completions", "decisions", "web_search_calls", "costs"}


@pytest.mark.parametrize(
    "body",
    [
        "    group_by: [project_id, api_source]\n",
        "    overrides: {completions: {group_by: [api_source]}}\n",
        "    overrides: {decisions: {group_by: [model, api_source, service_tier]}}\n",
        "    overrides: {web_search_calls: {group_by: [api_source, context_level]}}\n",
        "    overrides: {costs: {group_by: [line_item, api_source, user_id]}}\n",
        "    overrides: {costs: {group_by: [user_id]}}\n",
    ],
)
def test_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str) -> None:
    code, _, _ = check(tmp_path, body)
    out = capsys.readouterr()
    assert code == 0 and out.out.startswith("config OK") and "HTTP 400" not in out.err, out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    overrides: {embeddings: {group_by: [api_source]}}\n",
            "sources[0] (acme): overrides.embeddings.group_by: 'api_source' is not one of "
            "project_id, user_id, api_key_id, model",
        ),
        (
            "    overrides: {file_search_calls: {group_by: [api_source]}}\n",
            "overrides.file_search_calls.group_by: 'api_source' is not one of",
        ),
        (
            "    overrides: {decisions: {group_by: [line_item]}}\n",
            "overrides.decisions.group_by: 'line_item' is not one of",
        ),
        ("    group_by: [apisource]\n", "group_by: 'apisource' is not one of"),
        ("    endpoints: [decision]\n", "sources[0] (acme).endpoints"),
    ],
)
def test_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    code, _, _ = check(tmp_path, body)
    err = capsys.readouterr().err
    assert code == 2 and expected in err, err


@pytest.mark.parametrize(
    ("body", "clash"),
    [
        ("    overrides: {costs: {group_by: [project_id, user_id]}}\n", "group_by project_id"),
        (
            "    project_ids: [proj_a]\n    overrides: {costs: {group_by: [user_id]}}\n",
            "the project_ids filter",
        ),
    ],
)
def test_costs_user_id_with_project_is_valid_but_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, clash: str
) -> None:
    code, _, path = check(tmp_path, body)
    out = capsys.readouterr()
    assert code == 0 and out.out.startswith("config OK")
    lines = [line for line in out.err.splitlines() if "HTTP 400" in line]
    assert len(lines) == 1, out.err
    assert lines[0].startswith(
        "usage-exporter: warning: sources[0] (acme).overrides.costs.group_by: user_id with "
    )
    assert clash in lines[0] and "sk-admin-k" not in out.err
    assert len(vendor_warnings(load_config(Path(path), env={}))) == 1


def test_no_warning_without_the_combination_or_without_costs(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    for body in (
        "    group_by: [project_id, user_id]\n",  # the source's list never gives costs user_id
        "    overrides: {costs: {group_by: [line_item, user_id]}}\n",
        "    endpoints: [completions]\n    project_ids: [p]\n"
        "    overrides: {costs: {group_by: [project_id, user_id]}}\n",
    ):
        path.write_text(HEAD + body)
        assert vendor_warnings(load_config(path, env={})) == [], body
