"""Shared test configuration.

Hypothesis profiles: ``ci`` (the default, so the README's test command stays
fast), ``dev`` and ``long`` for deeper local runs
(``HYPOTHESIS_PROFILE=long pytest``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

CAPTURES = TESTS / "data" / "captures"
"""The recorded real traffic (tests/data/captures/, its README says where each comes from)."""
