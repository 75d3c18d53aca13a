"""The drift report: every path, parameter, enum value and result field the vendors' specs
describe that the exporter neither handles nor lists as deliberately ignored (with a reason, in
`tests/spec_data/ignored.json`) fails this test, named. Updating a spec file (make spec-data)
then shows exactly what is new. How "handled" is decided: `tests/conformance/drift.py`."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import drift, spec
from tests.harness import http_json, simulator
from tools import upstreams_doc

KEYS = {"arthur": "arthur-drift", "telnyx": "KEYdrift00001", "anylayer": "zk_prod_drift"}


def _iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture(scope="module")
def handled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    """What the exporter handles, per vendor; the non-OpenAI sources are run on real simulator
    answers (fetched once here)."""
    extra = (
        *("--arthur-key", f"{KEYS['arthur']}=eng", "--telnyx-key", f"{KEYS['telnyx']}=acct"),
        *("--anylayer-key", f"{KEYS['anylayer']}=acct"),
    )
    with simulator(tmp_path_factory.mktemp("drift"), extra=extra) as sim:

        def get(path: str, key: str, *pairs: tuple[str, str], **params: Any) -> Any:
            query = urllib.parse.urlencode([*pairs, *params.items()])
            return http_json(f"{sim.url}{path}?{query}", headers={"Authorization": f"Bearer {key}"})

        now = int(time.time())
        hour = now - now % 3600
        arthur = get(
            "/api/v2/usage/tokens",
            KEYS["arthur"],
            ("group_by", "rule_type"),
            ("group_by", "task"),
            start_time=_iso(hour - 3 * 3600),
            end_time=_iso(hour),
        )
        window = {"filter[start_time]": _iso(hour - 6 * 3600), "filter[end_time]": _iso(hour)}
        api = get("/v2/storage/buckets/backups/usage/api", KEYS["telnyx"], **window)
        storage = get("/v2/storage/buckets/backups/usage/storage", KEYS["telnyx"])
        tasks = http_json(
            f"{sim.url}/api/v2/tasks/search?page=0&page_size=50&sort=asc",
            method="POST",
            body={"include_archived": True},
            headers={"Authorization": f"Bearer {KEYS['arthur']}"},
        )
        usage = get(
            "/v1/developer/usage",
            KEYS["anylayer"],
            timeframe="24h",
            granularity="hour",
            keyId="key_8f3a",
        )
    yield {
        "openai": drift.openai_handled(),
        "arthur": drift.arthur_handled(arthur) | drift.arthur_tasks_handled(tasks),
        "telnyx": drift.telnyx_handled(api, storage),
        "anylayer": drift.anylayer_handled(usage),
    }


@pytest.mark.parametrize("vendor", spec.VENDORS)
def test_nothing_in_the_spec_is_left_unexplained(handled: dict[str, set[str]], vendor: str) -> None:
    unexplained = drift.drift(vendor, handled[vendor])
    assert not unexplained, (
        f"{len(unexplained)} item(s) of the {vendor} spec data are neither handled by the "
        "exporter nor listed in tests/spec_data/ignored.json with a reason:\n  "
        + "\n  ".join(unexplained)
    )


@pytest.mark.parametrize("vendor", spec.VENDORS)
def test_every_ignore_rule_is_still_needed(handled: dict[str, set[str]], vendor: str) -> None:
    stale = drift.stale_rules(vendor, handled[vendor])
    assert not stale, f"{vendor}: these rules match nothing unhandled any more: {stale}"


def test_every_ignore_rule_has_a_reason() -> None:
    rules = drift.ignored()
    assert set(rules) == set(spec.VENDORS)
    for vendor, entries in rules.items():
        for rule, reason in entries.items():
            assert rule.split(" ")[0] in ("path", "param", "enum", "field"), rule
            assert len(reason) >= 20, f"{vendor} {rule}: say why"


def test_the_report_fails_on_something_new(handled: dict[str, set[str]]) -> None:
    """The check can fail: a group key the exporter stops declaring, a result field the spec
    gains, a rule removed from the ignore list: each shows up, named."""
    openai = set(handled["openai"])
    openai.discard("enum /organization/usage/completions group_by=model")
    assert drift.drift("openai", openai) == [
        "enum /organization/usage/completions group_by=model  [spec]"
    ]
    telnyx = {h for h in handled["telnyx"] if not h.endswith("usage/api data[].categories[].ops")}
    assert "field /storage/buckets/{bucketName}/usage/api data[].categories[].ops  [spec]" in (
        drift.drift("telnyx", telnyx)
    )
    # names and limits: a resource the exporter stops reading, a task field it stops using
    openai.add("enum /organization/usage/completions group_by=model")
    openai.discard("path GET /organization/projects/{project_id}/rate_limits")
    assert drift.drift("openai", openai) == [
        "path GET /organization/projects/{project_id}/rate_limits  [spec]"
    ]
    arthur = set(handled["arthur"]) - {"field /api/v2/tasks/search tasks[].name"}
    assert drift.drift("arthur", arthur) == ["field /api/v2/tasks/search tasks[].name  [spec]"]
    rules = drift.ignored()
    original = drift.ignored
    rule = next(iter(rules["arthur"]))
    try:
        drift.ignored = lambda: {
            **rules,
            "arthur": {k: v for k, v in rules["arthur"].items() if k != rule},
        }
        assert drift.drift("arthur", handled["arthur"])
    finally:
        drift.ignored = original


def test_docs_upstreams_md_is_in_sync() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "upstreams.md"
    assert doc.read_text() == upstreams_doc.render(doc.read_text()), (
        "docs/upstreams.md is out of date: run `python -m tools.upstreams_doc`"
    )
