"""Vendor-free building blocks of sources: checked value conversions and composite sources.

Each vendor's own source lives in its package, `exporter/vendors/<kind>/`.
"""
