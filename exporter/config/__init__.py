"""The configuration: loading and validating the YAML file (`load`), the keys every kind of
source shares (`source`), and the warnings for valid but likely mistaken settings (`checks`)."""
