"""Settings for the whole suite."""

from __future__ import annotations

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip without hypothesis
    pass
else:
    # Property tests check correctness, not speed: on a busy CI machine (two workers, other
    # jobs) generating inputs can be slow, which is no failure of the code under test.
    settings.register_profile("kt", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("kt")
