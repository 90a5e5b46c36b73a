"""The training curriculum Magic used for LTM-2-mini, as specs over the generator.

Stage `pairs`: single hash pairs (one link asked, anywhere in a chain): learn that a pair is a link.
Stage `multistep`: multi-hop chains answered with every intermediate hash (chain of thought).
Stage `skip`: the end of a k-hop chain directly (skip steps).
A `Curriculum` grows hops and context length on a schedule; `spec_at(step)` is pure, and
`batch_specs(step, n)` gives fresh seeds per step so training data never repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError
from .spec import Spec

STAGES = ("pairs", "multistep", "skip")


def stage_spec(stage: str, size: int, hops: int, **spec_fields) -> Spec:
    """A spec whose completions train one curriculum stage."""
    if stage == "pairs":
        return Spec(size=size, hops=max(hops, 1), query_hops=1, mid_chain=True, cot=False, **spec_fields)
    if stage == "multistep":
        return Spec(size=size, hops=hops, cot=True, **spec_fields)
    if stage == "skip":
        return Spec(size=size, hops=hops, cot=False, **spec_fields)
    raise SpecError(f"unknown curriculum stage {stage!r}: use one of {', '.join(STAGES)}")


@dataclass(frozen=True)
class Phase:
    """`steps` steps of one stage, hops and size interpolated from start to end."""

    stage: str
    steps: int
    hops: tuple[int, int] = (1, 1)
    size: tuple[int, int] = (512, 512)


@dataclass(frozen=True)
class Curriculum:
    phases: tuple[Phase, ...]
    seed: int = 0
    fields: tuple[tuple[str, object], ...] = ()  # extra Spec fields (hash_len, alphabet, format, ...)

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)

    def phase_at(self, step: int) -> tuple[Phase, float]:
        """The phase of `step` and how far into it we are (0..1)."""
        for phase in self.phases:
            if step < phase.steps:
                return phase, step / max(phase.steps - 1, 1)
            step -= phase.steps
        return self.phases[-1], 1.0

    def spec_at(self, step: int) -> Spec:
        phase, t = self.phase_at(step)
        hops = round(phase.hops[0] + t * (phase.hops[1] - phase.hops[0]))
        size = int(phase.size[0] * (phase.size[1] / phase.size[0]) ** t)  # geometric growth
        return stage_spec(phase.stage, size, hops, seed=self.seed, **dict(self.fields))

    def batch_specs(self, step: int, n: int) -> list[tuple[Spec, int]]:
        """(spec, sample index) pairs for a training batch: indices never repeat across steps."""
        spec = self.spec_at(step)
        return [(spec, step * n + i) for i in range(n)]
