"""usage-exporter: exact Prometheus counters from usage and billing APIs."""

__version__ = "0.2.0.dev0"
