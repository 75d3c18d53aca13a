"""What every source reads its upstream with, vendor-free: the HTTP client (`client`), its
settings (`settings`) and its errors (`errors`), imported from here; checked conversions of the
upstream's values (`values`) and a source made of parts (`composite`), from their modules."""

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
