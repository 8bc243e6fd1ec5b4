"""Run profiles: how much Hypothesis searches. Checks are the same in every profile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    valid_examples: int  # random valid tokens per run (verifier)
    mutation_examples: int  # random mutated tokens (verifier)
    machine_examples: int  # stateful runs (issuer)
    machine_steps: int  # steps per stateful run
    shrink_seconds: float  # time budget for shrinking one failure


PROFILES = {
    "quick": Profile(
        "quick",
        valid_examples=8,
        mutation_examples=40,
        machine_examples=3,
        machine_steps=12,
        shrink_seconds=5,
    ),
    "default": Profile(
        "default",
        valid_examples=40,
        mutation_examples=300,
        machine_examples=5,
        machine_steps=20,
        shrink_seconds=15,
    ),
    "thorough": Profile(
        "thorough",
        valid_examples=200,
        mutation_examples=2000,
        machine_examples=40,
        machine_steps=40,
        shrink_seconds=60,
    ),
}
