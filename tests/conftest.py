"""Project-wide test settings: Hypothesis profiles.

``ci`` (selected when ``CI`` is set) derandomises Hypothesis so a CI run is reproducible;
``dev`` explores new examples on every run. Neither uses a deadline: the machine is a
shared 2-core box and timing is not what these tests are about.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
