"""Training code: DSDPG and its baselines, environments and noise wrappers."""
