"""Hypothesis profiles for the property tests.

Load one from ``tests/conftest.py`` (before any test module is imported)::

    from tests.hypothesis_profiles import load_profile

    load_profile()  # HYPOTHESIS_PROFILE=ci|dev|long; "ci" when unset

* ``ci``: few examples, derandomized (the same examples on every run, so a CI gate is
  reproducible), no example database written into the checkout, no deadline (a shared CI
  runner's timing is not a property of the code).
* ``dev``: hypothesis' default number of examples, randomized, with the local database.
* ``long``: many examples, for a nightly or a hunt before a release; e.g.
  ``HYPOTHESIS_PROFILE=long python -m pytest -q tests/test_robustness.py``.

Tests set only what must hold under every profile (``deadline=None`` and the health checks
that large generated artifacts trip); the number of examples comes from the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "ci"

_SLOW_DATA = (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example)

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_DATA,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_DATA,
)


def load_profile(default: str = DEFAULT_PROFILE) -> str:
    """Load the profile named by ``$HYPOTHESIS_PROFILE`` (else ``default``); return its name."""
    name = os.environ.get(PROFILE_VARIABLE) or default
    settings.load_profile(name)
    return name
