"""Claim runners and the ``sobolev-verify`` command line."""
