"""Anylayer (formerly ZKScore): API-key usage through "Get Usage"."""

from __future__ import annotations

from exporter.plugin import Demo, Plugin, Twin
from exporter.vendors.anylayer import source
from exporter.vendors.anylayer.config import AnylayerConfig

PLUGIN = Plugin(
    kind="anylayer",
    title='Anylayer (formerly ZKScore) API-key usage ("Get Usage")',
    config_model=AnylayerConfig,
    families=source.FAMILIES,
    default_base_url=source.DEFAULT_BASE_URL,
    build=source.AnylayerSource,
    twin=Twin(
        mount="exporter.vendors.anylayer.routes:mount",
        expected="exporter.vendors.anylayer.expected:expected",
        default_keys={"zk_prod_demo1234": "acct-demo"},
    ),
    demo=Demo(
        sources=(
            {
                "kind": "anylayer",
                "name": "zkscore-api",
                "api_key": "zk_prod_demo1234",
                "interval": "5s",
                "timeout": "4s",
                "timeframe": "24h",
                "granularity": "hour",
                "key_ids": ["key_8f3a", "key_c21b"],
            },
        ),
    ),
    rate_limit_header=source.RATE_LIMIT_HEADER,
    series_keys=("granularity",),
)
