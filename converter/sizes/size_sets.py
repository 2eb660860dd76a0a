"""Sets of input lengths a net accepts: a few single sizes below a threshold, then whole residue classes.

Floor arithmetic makes every length in a net of Conv/Pool/ConvTranspose/Resize/Pad/Slice layers an
affine function of the input length on each residue class modulo the product of the strides, so the
set of lengths at which the net runs (or loses nothing) is eventually periodic: below some threshold a
finite list, from it on every n with n mod period in a set of residues. A U-Net with four stride-2
levels runs at 16 + 16n; MONAI's UNet at 7 + 8n and 8 + 8n; the seed's autoencoder loses nothing at
61 + 16n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Progression:
    """{start + step*k : k >= 0} (step 0: start alone; count: at most that many members, None: no end)."""

    start: int
    step: int
    count: int | None = None

    def members_below(self, limit: int) -> list[int]:
        if self.step == 0:
            return [self.start] if self.start < limit else []
        end = limit if self.count is None else min(limit, self.start + self.step * self.count)
        return list(range(self.start, end, self.step)) if end > self.start else []


@dataclass(frozen=True)
class SizeSet:
    """Positive integers: `singles` (each below `threshold`), and every n >= threshold whose residue
    modulo `period` is in `residues`. Canonical: the smallest period and threshold that describe it."""

    singles: tuple[int, ...] = ()
    threshold: int = 1
    period: int = 1
    residues: frozenset[int] = frozenset()

    @staticmethod
    def of(progressions: list[Progression]) -> SizeSet:
        """The union of progressions of positive integers (members below 1 are dropped)."""
        endless = [p for p in progressions if p.step and p.count is None]
        period = math.lcm(*[p.step for p in endless]) if endless else 1
        threshold = max([p.start for p in endless], default=1)
        finite = [p for p in progressions if p not in endless]
        threshold = max([threshold] + [p.start + p.step * (p.count or 0) for p in finite if p.step] +
                        [p.start + 1 for p in finite if not p.step])
        members = {n for p in progressions for n in p.members_below(threshold + period) if n >= 1}
        residues = frozenset(n % period for n in members if n >= threshold)
        return SizeSet._canonical(members, max(threshold, 1), period, residues)

    @staticmethod
    def _canonical(members: set[int], threshold: int, period: int, residues: frozenset[int]) -> SizeSet:
        for p in sorted(d for d in range(1, period + 1) if period % d == 0):
            if all(((r % p) in {s % p for s in residues}) == (r in residues) for r in range(period)):
                residues, period = frozenset(r % p for r in residues), p
                break

        def member(n: int) -> bool:
            return n in members if n < threshold else n % period in residues
        while threshold > 1 and member(threshold - 1) == ((threshold - 1) % period in residues):
            threshold -= 1
        singles = tuple(n for n in range(1, threshold) if member(n))
        return SizeSet(singles, threshold, period, residues)

    @property
    def empty(self) -> bool:
        return not self.singles and not self.residues

    @property
    def finite(self) -> bool:
        return not self.residues

    def __contains__(self, n: int) -> bool:
        if n < self.threshold:
            return n in self.singles
        return n % self.period in self.residues

    def next_at_least(self, n: int) -> int | None:
        """The smallest member >= n, None if there is none."""
        n = max(n, 1)
        for s in self.singles:
            if s >= n:
                return s
        if not self.residues:
            return None
        start = max(n, self.threshold)
        return min(start + (r - start) % self.period for r in self.residues)

    def smallest(self, count: int, at_least: int = 1) -> list[int]:
        found, n = [], at_least
        while len(found) < count:
            nxt = self.next_at_least(n)
            if nxt is None:
                break
            found.append(nxt)
            n = nxt + 1
        return found

    def nearest(self, n: int) -> list[int]:
        """The members closest to n below and above it (for error messages)."""
        below = max((m for m in self.smallest(n) if m < n), default=None) if n > 1 else None
        above = self.next_at_least(n + 1)
        return [m for m in (below, above) if m is not None]

    def progressions(self) -> list[Progression]:
        """Singles, then one endless progression per residue, ordered by first member."""
        endless = sorted(self.threshold + (r - self.threshold) % self.period for r in self.residues)
        return [Progression(s, 0) for s in self.singles] + [Progression(s, self.period) for s in endless]

    def intersect(self, other: SizeSet) -> SizeSet:
        period = math.lcm(self.period, other.period)
        threshold = max(self.threshold, other.threshold)
        members = {n for n in range(1, threshold + period) if n in self and n in other}
        return SizeSet._canonical(members, threshold, period,
                                  frozenset(r for r in range(period) if (threshold + (r - threshold) % period) in members))

    def text(self) -> str:
        if self.empty:
            return "none"
        if self.finite:
            return ", ".join(map(str, self.singles)) + " only"
        parts = [str(p.start) if not p.step else (f"{p.start} + {'' if p.step == 1 else p.step}n") for p in self.progressions()]
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"text": self.text(), "singles": list(self.singles), "from": self.threshold, "period": self.period,
                "residues": sorted(self.residues), "first": self.smallest(4)}
