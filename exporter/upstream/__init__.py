"""The HTTP client every source reads its upstream through (`client`), its settings
(`settings`) and its errors (`errors`). A vendor's source imports them from here."""

from exporter.upstream.client import RequestRecorder, Response, Upstream, gather_all
from exporter.upstream.errors import UpstreamError, error_message
from exporter.upstream.settings import TLSSettings, UpstreamSettings

__all__ = [
    "RequestRecorder",
    "Response",
    "TLSSettings",
    "Upstream",
    "UpstreamError",
    "UpstreamSettings",
    "error_message",
    "gather_all",
]
