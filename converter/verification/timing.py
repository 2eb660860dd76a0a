"""Comparing the speed of forms that compute the same thing, so that the comparison holds under load.

A single sequential sample per form moved ratios by up to 0.36 between two quiet runs (issue 14): the
machine's state drifts between the first form's timing and the last's. So forms are compared in rounds:
each round times every form once, warm, in a shuffled (seeded) order, and a form's ratio to the
reference is taken within the round; rounds repeat until every median ratio settles (or the budget
ends). The benchmarks print min/median/max over the rounds; --strategy auto decides on the medians.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Callable


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    def text(self, digits: int = 2) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(values: list[float]) -> Spread:
    return Spread(min(values), statistics.median(values), max(values))


@dataclass(frozen=True)
class Comparison:
    ms: dict[str, Spread]           # per form: its per-round times
    ratio: dict[str, Spread]        # per form: its per-round time / the reference's in the same round
    rounds: int
    per_round_ms: dict[str, list[float]] = field(default_factory=dict)

    def ratios_to(self, reference: str) -> dict[str, Spread]:
        """Each form's per-round time / another form's in the same round (a table's floor, say)."""
        base = self.per_round_ms[reference]
        return {n: spread([t / r for t, r in zip(v, base)]) for n, v in self.per_round_ms.items()}


def _sample_ms(run: Callable[[], object], repeats: int) -> float:
    """One round's time of a warm form: the median of a few back-to-back runs."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def compare(forms: dict[str, Callable], reference: str, budget_s: float = 10.0, min_rounds: int = 7,
            max_rounds: int = 60, settle: float = 0.02, repeats: int = 3, seed: int = 0,
            sample: Callable[[Callable, int], float] = _sample_ms) -> Comparison:
    """Interleaved rounds of every form (each run twice first, to warm it), until the median ratio of every form moves by
    less than `settle` (relative) over the last three rounds, after min_rounds, or the budget ends. A form is
    what `sample(form, repeats)` takes: by default a callable run timed here by the wall clock; a runtime in
    another process times its own runs (RuntimeSession.timer), so the pipe between is not counted."""
    for form in forms.values():
        sample(form, 2)
    order, rng = list(forms), random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in forms}
    medians: list[dict[str, float]] = []
    start = time.perf_counter()
    while len(medians) < max_rounds:
        rng.shuffle(order)
        for name in order:
            times[name].append(sample(forms[name], repeats))
        ratios = {n: [t / r for t, r in zip(times[n], times[reference])] for n in forms}
        medians.append({n: statistics.median(v) for n, v in ratios.items()})
        if len(medians) >= min_rounds and (_settled(medians[-3:], settle) or time.perf_counter() - start > budget_s):
            break
    found = Comparison({n: spread(v) for n, v in times.items()}, {}, len(medians), times)
    return replace(found, ratio=found.ratios_to(reference))


def _settled(last: list[dict[str, float]], settle: float) -> bool:
    return all(abs(m[n] - last[-1][n]) <= settle * last[-1][n] for m in last for n in m)
