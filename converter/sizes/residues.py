"""Exact length arithmetic on one residue class of input lengths.

An input length is written n = A*v + B for an integer v; every length the analysis follows is an
affine function a*v + b on the class. Floor division by s is exact once s divides a: the class is
refined into s/gcd(a, s) sub-classes (v = j + q*w), on each of which floor((a*v + b)/s) is affine in w
and the remainder (b + a*j) mod s is a constant, which says whether the layer drops border samples
there. An equality between two lengths holds on the whole class, at one v, or nowhere. Bounds
(a*v + b >= 1: every length is at least 1) cut each class to a range of v.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction

Affine = tuple[Fraction, Fraction]        # a*v + b


def const(value) -> Affine:
    return Fraction(0), Fraction(value)


def scaled(x: Affine, k) -> Affine:
    return x[0] * k, x[1] * k


def plus(x: Affine, y: Affine) -> Affine:
    return x[0] + y[0], x[1] + y[1]


@dataclass
class ResidueClass:
    """One class n = A*v + B, the lengths and shape values on it, and what constrains it."""

    n: Affine
    lengths: dict = field(default_factory=dict)      # tensor name -> Affine (the traced factor of its dim)
    values: dict = field(default_factory=dict)       # tensor name -> tuple[Affine | None, ...] (shape vectors)
    bounds: list = field(default_factory=list)       # (Affine, node): must be >= 1
    lossy: str = ""                                  # the first node that drops a border sample here

    @staticmethod
    def whole(tensor: str) -> ResidueClass:
        """Every input length n >= 1 (n = v), the traced tensor's length n."""
        n = (Fraction(1), Fraction(0))
        cls = ResidueClass(n, {tensor: n})
        cls.require(n, "the input")
        return cls

    def substitute(self, q: int, j: int) -> ResidueClass:
        """v = j + q*w: every affine function rewritten in w (q = 0 pins the class to v = j)."""
        def sub(x: Affine | None) -> Affine | None:
            return None if x is None else (x[0] * q, x[0] * j + x[1])
        return replace(self, n=sub(self.n), lengths={k: sub(x) for k, x in self.lengths.items()},
                       values={k: tuple(sub(x) for x in vs) for k, vs in self.values.items()},
                       bounds=[(sub(x), node) for x, node in self.bounds])

    def floor_div(self, x: Affine, s: int) -> list[tuple[ResidueClass, Affine, int]]:
        """floor(x / s) on each sub-class where it is affine, with the remainder there.

        x may have fractional coefficients (a scale from a float Resize); they are cleared first."""
        den = math.lcm(x[0].denominator, x[1].denominator)
        a, b, s = int(x[0] * den), int(x[1] * den), s * den
        q = s // math.gcd(a, s) if a else 1
        found = []
        for j in range(q):
            cls = self.substitute(q, j) if q > 1 else self
            a2, b2 = a * q, a * j + b
            found.append((cls, (Fraction(a2 // s), Fraction(b2 // s)), b2 % s))
        return found

    def equal(self, x: Affine, y: Affine) -> ResidueClass | None:
        """The part of the class where x == y: all of it, one size, or None."""
        if x[0] == y[0]:
            return self if x[1] == y[1] else None
        v = (y[1] - x[1]) / (x[0] - y[0])
        return self.substitute(0, int(v)) if v.denominator == 1 else None

    def require(self, x: Affine, node: str, at_least: int = 1) -> None:
        """x >= at_least wherever the net runs."""
        self.bounds.append(((x[0], x[1] - at_least + 1), node))

    def v_range(self) -> tuple[int | None, int | None] | None:
        """(lowest, highest) v meeting every bound (None: unbounded that way); None if no v does."""
        low, high = None, None
        for (a, b), _ in self.bounds:
            if a == 0:
                if b < 1:
                    return None
            elif a > 0:
                low = max(low, math.ceil((1 - b) / a)) if low is not None else math.ceil((1 - b) / a)
            else:
                high = min(high, math.floor((1 - b) / a)) if high is not None else math.floor((1 - b) / a)
        if low is not None and high is not None and low > high:
            return None
        return low, high

    def v_of(self, n: int) -> int | None:
        """The v at which this class has input length n, None if n is not in the class."""
        a, b = self.n
        if a == 0:
            return 0 if b == n else None
        v = (n - b) / a
        return int(v) if v.denominator == 1 else None
