"""Arthur GenAI Engine: token usage per rule type and task, with the engine's task names."""

from __future__ import annotations

from exporter.model import Source
from exporter.plugin import Demo, Plugin, Twin
from exporter.upstream import Upstream
from exporter.upstream.composite import Composite
from exporter.vendors.arthur import resources, source
from exporter.vendors.arthur.config import ArthurConfig


def build(config: ArthurConfig, upstream: Upstream) -> Source:
    """Token usage, with the engine's task names on their own schedule."""
    return Composite(
        source.ArthurSource(config, upstream),
        resources.ArthurResourceSource(config, upstream.with_own_slots()),
    )


PLUGIN = Plugin(
    kind="arthur",
    title="Arthur GenAI Engine token usage",
    config_model=ArthurConfig,
    families=source.FAMILIES + resources.FAMILIES,
    default_base_url=source.DEFAULT_BASE_URL,
    build=build,
    twin=Twin(
        mount="exporter.vendors.arthur.routes:mount",
        expected="exporter.vendors.arthur.expected:expected",
        default_keys={"arthur-demo-key": ("engine-demo", "ORG-AUDITOR")},  # key -> (engine, role)
        key_help="KEY=ENGINE or KEY=ENGINE:ROLE",
        parse_key="exporter.vendors.arthur.routes:parse_key",
    ),
    demo=Demo(
        sources=(
            {
                "kind": "arthur",
                "name": "guardrails",
                "api_key": "arthur-demo-key",
                "interval": "5s",
                "timeout": "4s",
                "window": "15m",
                "backfill": "1d",
                "group_by": ["rule_type", "task"],
                "resource_interval": "1m",  # task names
            },
        ),
    ),
    error_hints=source.ERROR_HINTS,
    series_keys=("window", "group_by"),
)
