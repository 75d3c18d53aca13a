"""Telnyx Cloud Storage: API calls, bandwidth and stored bytes per bucket."""

from __future__ import annotations

from exporter.plugin import Demo, Plugin, Twin
from exporter.vendors.telnyx import source
from exporter.vendors.telnyx.config import TelnyxConfig

PLUGIN = Plugin(
    kind="telnyx",
    title="Telnyx Cloud Storage bucket usage",
    config_model=TelnyxConfig,
    families=source.FAMILIES,
    default_base_url=source.DEFAULT_BASE_URL,
    build=source.TelnyxSource,
    twin=Twin(
        mount="exporter.vendors.telnyx.routes:mount",
        expected="exporter.vendors.telnyx.expected:expected",
        default_keys={"KEYDEMO-telnyx": "acct-demo"},
    ),
    demo=Demo(
        sources=(
            {
                "kind": "telnyx",
                "name": "storage-eu",
                "api_key": "KEYDEMO-telnyx",
                "interval": "5s",
                "timeout": "4s",
                "backfill": "1d",
                "buckets": "auto",
                "s3_endpoint": "${SIMULATOR_URL}/s3/{region}",
            },
        ),
    ),
    rate_limit_header=source.RATE_LIMIT_HEADER,
    example={"buckets": ["app-logs"]},
    api_version=source.API_VERSION,
    error_hints=source.ERROR_HINTS,
    warnings=source.warnings,
    other_endpoints=source.endpoints,
)
