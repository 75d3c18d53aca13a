"""usage-exporter: exact Prometheus counters from usage and billing APIs."""

__version__ = "0.1.0"
