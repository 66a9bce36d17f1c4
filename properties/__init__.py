"""Hypothesis strategies and property predicates for the Sobolev claims (SPEC §4)."""
