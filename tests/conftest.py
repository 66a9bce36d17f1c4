"""Hypothesis profiles for the test suite (see README, 'Hypothesis profiles')."""

from properties.profiles import load_profile

load_profile()
