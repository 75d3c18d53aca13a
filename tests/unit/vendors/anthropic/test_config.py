"""`kind: anthropic` in check-config: what the Anthropic APIs would refuse is refused at load,
each with a message that names the field and says why; valid settings load with their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli.main import main
from exporter.config.load import load_config
from exporter.vendors.anthropic.config import AnthropicConfig

ADMIN_KEY = "sk-ant-admin01-CANARY-5678"
WORKSPACE_KEY = "sk-ant-api03-CANARY-1234"
HEAD = "sources:\n  - kind: anthropic\n    name: claude\n"


def check(tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + body)
    code = main(["check-config", str(path)])
    out = capsys.readouterr()
    return code, out.err + out.out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"    api_key: {WORKSPACE_KEY}\n",
            "a workspace-scoped API key (sk-ant-api...) is refused by the Admin API's usage "
            "and cost reports: use an Admin key (sk-ant-admin...",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    group_by: [product]\n",
            "group_by: 'product' is not a dimension the legacy Usage API (api: admin) takes",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    cost_group_by: [model]\n",
            "cost_group_by: 'model' is not a dimension the legacy Cost API (api: admin) takes",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    revision_window: 7d\n",
            "revision_window: only with `api: analytics`",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    sweep_interval: 1h\n",
            "sweep_interval: only with `api: analytics`",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    group_by: [account_id]\n",
            "group_by: 'account_id' is not a dimension the Analytics API (api: analytics) takes",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    group_by: [actor]\n",
            "group_by: 'actor' is refused: an identity dimension",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    group_by: [rbac_group_id]\n",
            "group_by: 'rbac_group_id' is refused: its rows overlap",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    group_by: [api_key_id, "
            "workspace_id, model, service_tier, context_window, speed]\n",
            "group_by: 6 dimensions; the Analytics API groups by at most 5",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    cost_group_by: [workspace_id, "
            "api_key_id, model, service_tier, context_window, cost_type, token_type, "
            "description]\n",
            "cost_group_by: 'description' is not a dimension the Analytics API",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    cost_group_by: [workspace_id, "
            "token_type]\n",
            "cost_group_by: token_type without cost_type returns token rows only",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    revision_window: 32d\n",
            "revision_window: 32d re-read in one request exceeds the Analytics API's 31-day span",
        ),
        (
            f"    api_key: {ADMIN_KEY}\n    api: analytics\n    count_from: 2025-12-31\n",
            "count_from: the Analytics API has no data before 2026-01-01",
        ),
        (f"    api_key: {ADMIN_KEY}\n    endpoints: []\n", "list at least one endpoint"),
        (f"    api_key: {ADMIN_KEY}\n    endpoints: [messages, messages]\n", "listed twice"),
        (f"    api_key: {ADMIN_KEY}\n    group_by: [model, model]\n", "a key is listed twice"),
        (f"    api_key: {ADMIN_KEY}\n    bucket_width: 5m\n", "bucket_width"),
        (f"    api_key: {ADMIN_KEY}\n    api: enterprise\n", "api"),
        (f"    api_key: {ADMIN_KEY}\n    monthly_budget_usd: 0\n", "monthly_budget_usd"),
    ],
)
def test_refused_naming_the_field_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    code, err = check(tmp_path, body, capsys)
    assert code == 2, err
    assert err.startswith("usage-exporter: error: sources[0]") and expected in err, err
    assert "CANARY" not in err, "the key never appears in an error"


def test_a_workspace_key_from_a_file_is_refused_naming_the_file_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key"
    key.write_text(WORKSPACE_KEY + "\n")
    code, err = check(tmp_path, f"    api_key_file: {key}\n", capsys)
    assert code == 2 and "api_key_file: a workspace-scoped API key" in err, err
    assert "CANARY" not in err


@pytest.mark.parametrize(
    "body",
    [
        f"    api_key: {ADMIN_KEY}\n",
        f"    api_key: {ADMIN_KEY}\n    group_by: [account_id, api_key_id, context_window, "
        "inference_geo, model, service_account_id, service_tier, workspace_id]\n"
        "    cost_group_by: [workspace_id]\n    bucket_width: 1m\n    monthly_budget_usd: 250\n",
        f"    api_key: {ADMIN_KEY}\n    api: analytics\n    group_by: [api_key_id, workspace_id, "
        "model, service_tier, product]\n    cost_group_by: [workspace_id, api_key_id, model, "
        "service_tier, context_window, cost_type, token_type]\n    revision_window: 31d\n",
        # a read:analytics key need not be an Admin key: warned, not refused
        f"    api_key: {WORKSPACE_KEY}\n    api: analytics\n",
    ],
)
def test_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str) -> None:
    code, out = check(tmp_path, body, capsys)
    assert code == 0, out


def test_defaults_follow_the_chosen_api(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        HEAD + f"    api_key: {ADMIN_KEY}\n  - kind: anthropic\n    name: analytics\n"
        f"    api_key: {ADMIN_KEY}\n    api: analytics\n"
    )
    admin, analytics = load_config(path).sources
    assert isinstance(admin, AnthropicConfig) and isinstance(analytics, AnthropicConfig)
    assert admin.api == "admin" and admin.endpoints == ["messages", "costs"]
    assert admin.bucket_width == "1h" and admin.cost_lookback == 2 * 86400
    assert admin.group_by == ["workspace_id", "api_key_id", "model"]
    assert admin.cost_dimensions == ("workspace_id", "description")
    assert analytics.cost_dimensions == ("workspace_id", "model", "cost_type", "token_type")
    assert analytics.revision_seconds == 30 * 86400 and analytics.sweep_seconds == 6 * 3600
    assert admin.resource_interval == 900 and admin.user_email is False


def test_speed_grouping_and_workspace_keys_on_analytics_are_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(tmp_path, f"    api_key: {ADMIN_KEY}\n    group_by: [speed]\n", capsys)
    assert code == 0 and "speed is a beta dimension" in out, out
    code, out = check(tmp_path, f"    api_key: {WORKSPACE_KEY}\n    api: analytics\n", capsys)
    assert code == 0 and "a workspace-scoped key" in out and "CANARY" not in out, out
