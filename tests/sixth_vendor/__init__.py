"""A throw-away sixth vendor, `tally`: the smallest complete plug-in, built only from the plug-in
interface (exporter.plugin, exporter.simulator.twin), for tests/integration/test_sixth_vendor.py.

Its API: `GET /tally/v1/usage?start=&end=` (Bearer key) answers `{"data": [{"start", "calls"}]}`
per UTC hour; `GET /_sim/tally/truth?account=&start=` the calls since `start`.
"""

from __future__ import annotations

from exporter.plugin import Demo, Plugin
from exporter.simulator.twin import Twin
from tests.sixth_vendor import routes, source, truth
from tests.sixth_vendor.config import TallyConfig

PLUGIN = Plugin(
    kind="tally",
    title="Tally call counts",
    config_model=TallyConfig,
    families=source.FAMILIES,
    default_base_url="https://api.tally.invalid",
    build=source.TallySource,
    twin=Twin(mount=routes.mount, expected=truth.expected, default_keys={"tally-key": "acct-t"}),
    demo=Demo(sources=({"kind": "tally", "name": "tally-main", "api_key": "tally-key"},)),
)
