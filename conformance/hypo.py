"""Running Hypothesis inside checks: bounded shrinking, failures turned into results.

Every example talks to a server over HTTP, so shrinking is given a time budget per profile
(Hypothesis' own bound is five minutes). The exception of the final, shrunk replay is the
minimal counterexample. A failure that does not reproduce on replay (the target's answer
depended on the clock) is still a failure the target showed: it is reported as such.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from hypothesis.errors import FlakyFailure
from hypothesis.internal.conjecture import engine

from mcp_auth.conformance.framework import Failed


@contextlib.contextmanager
def shrink_budget(seconds: float) -> Iterator[None]:
    old = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = old


def run(test: Callable[[], None], shrink_seconds: float) -> None:
    """Run a Hypothesis test function; re-raise its failure as :class:`Failed`."""
    try:
        with shrink_budget(shrink_seconds):
            test()
    except Failed as exc:
        raise Failed(exc.reason, exc.counterexample) from None
    except FlakyFailure as group:
        failed = [e for e in group.exceptions if isinstance(e, Failed)]
        if not failed:
            raise
        first = failed[0]
        raise Failed(
            first.reason + " (observed, but not reproduced on replay: the answer "
            "depended on timing)",
            first.counterexample,
        ) from None
