"""The kernel battery: run with ``pytest --sobolev-kernel SPEC --pyargs properties.battery``."""
