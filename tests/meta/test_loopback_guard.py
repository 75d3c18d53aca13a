"""All test traffic stays on loopback: the test process refuses other connections
(pytest-socket, configured in pyproject.toml), and every exporter process the tests start gets
a config whose every endpoint key resolves to loopback (`testkit.loopback`, for every
registered vendor)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.plugin import Plugin, endpoints
from exporter.vendors import plugins
from testkit.loopback import BeyondLoopback, beyond_loopback, is_loopback
from testkit.processes import exporter_argv

# a documentation address (TEST-NET-1): the guard refuses it before a packet is sent
OUTSIDE = ("192.0.2.1", 9)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_the_test_process_refuses_connections_beyond_loopback(
    pytestconfig: pytest.Config,
) -> None:
    allowed = pytestconfig.getoption("--allow-hosts", default=None)
    assert allowed, "pytest-socket's --allow-hosts is not set (pyproject.toml addopts)"
    assert set(allowed.split(",")) <= {"127.0.0.1", "::1", "localhost"}, allowed
    # the guard is in place before anything is tried: no packet leaves if it is not
    assert socket.socket.connect is not socket._socket.socket.connect  # type: ignore[attr-defined]
    with socket.socket() as outside, pytest.raises(RuntimeError, match=r"192\.0\.2\.1"):
        outside.connect(OUTSIDE)
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client.connect(server.getsockname())  # loopback still works


def entry(vendor: Plugin[Any], **extra: Any) -> dict[str, Any]:
    return {"kind": vendor.kind, "name": "t", "api_key": "k", **vendor.example, **extra}


@pytest.mark.parametrize("vendor", plugins(), ids=lambda p: p.kind)
def test_a_source_pointed_at_loopback_calls_nothing_else(vendor: Plugin[Any]) -> None:
    """Once base_url points elsewhere, no endpoint key may keep a vendor host (issue 28:
    Telnyx's bucket discovery kept its real S3 host)."""
    pointed = vendor.config_model.model_validate(entry(vendor, base_url="http://127.0.0.1:1"))
    for key, urls in endpoints(vendor, pointed).items():
        assert urls and all(is_loopback(u) for u in urls), (key, urls)
    default = vendor.config_model.model_validate(entry(vendor))
    at_default = [u for urls in endpoints(vendor, default).values() for u in urls]
    # a vendor whose API runs next to the exporter (Arthur's engine: localhost) stays there
    assert all(is_loopback(u) for u in at_default) == is_loopback(vendor.default_base_url)


@pytest.mark.parametrize("vendor", plugins(), ids=lambda p: p.kind)
def test_every_key_that_names_a_host_is_an_endpoint_key(vendor: Plugin[Any]) -> None:
    """A config key that sends calls somewhere (a URL, an endpoint template) is declared in
    `Plugin.other_endpoints`, so the loopback check of the test configs sees it."""
    declared = set(endpoints(vendor, vendor.config_model.model_validate(entry(vendor))))
    for name, field in vendor.config_model.model_fields.items():
        looks_like_one = name.endswith(("_url", "_endpoint")) or (
            isinstance(field.default, str) and field.default.startswith(("http://", "https://"))
        )
        if looks_like_one and name != "proxy_url":  # the proxy is checked on its own
            assert name in declared, f"{vendor.kind}.{name} is not in Plugin.other_endpoints"


def write(tmp_path: Path, *sources: dict[str, Any]) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"state_dir": str(tmp_path), "sources": list(sources)}))
    return path


@pytest.mark.parametrize("vendor", plugins(), ids=lambda p: p.kind)
def test_an_exporter_with_a_key_left_at_the_vendor_is_not_started(
    tmp_path: Path, vendor: Plugin[Any]
) -> None:
    path = write(tmp_path, entry(vendor))  # base_url left at the vendor's
    if is_loopback(vendor.default_base_url):  # (Arthur's engine: localhost by default)
        exporter_argv("once", "--config", str(path))
    else:
        with pytest.raises(BeyondLoopback, match=r"sources\[0\] \(t\)\.base_url resolves to"):
            exporter_argv("once", "--config", str(path))
    exporter_argv("check-config", str(path))  # calls nothing: allowed
    path = write(tmp_path, entry(vendor, base_url="http://127.0.0.1:1"))
    exporter_argv("run", "--config", str(path), "--web.listen-address", "127.0.0.1:0")


def test_an_explicit_vendor_endpoint_or_proxy_is_refused(tmp_path: Path) -> None:
    telnyx = {
        "kind": "telnyx",
        "name": "store",
        "api_key": "k",
        "buckets": "auto",
        "base_url": "http://127.0.0.1:1",
        "s3_endpoint": "https://{region}.telnyxcloudstorage.com",
    }
    found = beyond_loopback(write(tmp_path, telnyx))
    assert found and all("sources[0] (store).s3_endpoint resolves to https://" in f for f in found)
    proxied = {**telnyx, "s3_endpoint": "http://[::1]:1/s3/{region}", "proxy_url": "http://p:3128"}
    assert beyond_loopback(write(tmp_path, proxied)) == [
        "sources[0] (store) goes through the proxy http://p:3128/"
    ]
