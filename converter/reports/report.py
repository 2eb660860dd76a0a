"""What a conversion did, as data (for --report JSON) and as a short human summary.

Every report's data carries a schema number and the versions that produced it, so CI can tell reports
of different tools and releases apart.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from onnxport.converter.report_header import header
from onnxport.converter.input_specs import sizes_text
from onnxport.converter.verification.verify import VerifyResult
from onnxport.passes import PassReport


@dataclass
class ConvertReport:
    source: str
    targets: list[str]
    strategy: str
    nodes_before: int
    nodes_after: int = 0
    ops_before: Counter = field(default_factory=Counter)
    ops_after: Counter = field(default_factory=Counter)
    passes: list[PassReport] = field(default_factory=list)
    macs_before: int | None = None
    macs_after: int | None = None
    macs_at: dict | None = None
    remaining: list = field(default_factory=list)    # profiles.Violation: what still violates the target
    verification: VerifyResult | None = None
    runtime_verification: VerifyResult | None = None     # convert --verify-on NAME: the result on that runtime
    output: str | None = None
    fuse: bool = False
    alignment: object = None       # how verification lines outputs up (verification.comparison.Alignment)
    extras: list = field(default_factory=list)     # dense, pad-to-valid: what ran after the targets
    profile: str | None = None
    choices: list = field(default_factory=list)    # --strategy auto: auto_strategy.Choice per ConvTranspose
    rewrites: dict = field(default_factory=dict)    # converter.rewrites.describe: each node before and after
    verify_skipped: str = "not asked for"          # why there is no verification, when there is none
    remedy: str = ""            # a target not reached: the flag that fixes it (profiles.remedy)

    @property
    def ok(self) -> bool:
        """Every target reached and, where it was verified, equivalent."""
        return not self.remaining and all(v is None or v.ok for v in (self.verification, self.runtime_verification))

    def summary(self) -> str:
        check = self.verification.headline() if self.verification else f"not verified ({self.verify_skipped})"
        left = f"; {len(self.remaining)} node(s) still violate the target" if self.remaining else ""
        return f"{self.source}: {self.nodes_before} -> {self.nodes_after} nodes{left}; {check}" + \
            (f"; wrote {self.output}" if self.output else "")

    def to_dict(self) -> dict:
        return {
            **header(), "ok": self.ok, "summary": self.summary(),
            "source": self.source, "output": self.output, "targets": self.targets, "strategy": self.strategy,
            "fuse": self.fuse,
            "nodes": {"before": self.nodes_before, "after": self.nodes_after},
            "ops": {"before": dict(self.ops_before), "after": dict(self.ops_after)},
            "passes": [p.to_dict() for p in self.passes],
            "macs": {"before": self.macs_before, "after": self.macs_after, "at": self.macs_at},
            "remaining": [v.to_dict() for v in self.remaining], "remedy": self.remedy,
            "profile": self.profile, "strategy_choices": [c.to_dict() for c in self.choices],
            "rewrites": self.rewrites,
            "verification": self.verification.to_dict() if self.verification else None,
            "runtime_verification": self.runtime_verification.to_dict() if self.runtime_verification else None,
        }

    def text(self) -> str:
        what = [f"target {', '.join(self.targets)}, strategy {self.strategy}"] if self.targets else []
        what = (["fuse"] if self.fuse else []) + what + self.extras
        lines = [f"{self.source}: {self.nodes_before} nodes -> {self.nodes_after} nodes ({'; '.join(what)})"]
        for c in self.choices:
            timings = ", ".join(f"{k} {v} ms" for k, v in c.timings_ms.items())
            refused = "; ".join(f"{k}: {v}" for k, v in c.refused.items())
            lines.append(f"  auto: '{c.node}' -> {c.strategy} ({c.reason}{': ' + timings if timings else ''}"
                         f"{'; refused ' + refused if refused else ''})")
        for p in self.passes:
            if p.applied:
                added = ", ".join(f"{op} x{n}" for op, n in sorted(p.added.items()))
                removed = ", ".join(f"{op} x{n}" for op, n in sorted(p.removed.items()))
                lines.append(f"  {p.name}: rewrote {p.applied} node(s) ({', '.join(p.rewritten[:4])}"
                             f"{', ...' if len(p.rewritten) > 4 else ''}); removed {removed or 'nothing'}; "
                             f"added {added or 'nothing'}")
            for node, reason in p.skipped:
                lines.append(f"  {p.name}: left '{node}' in place: {reason}")
        if self.macs_before and self.macs_after is not None:
            ratio = self.macs_after / self.macs_before if self.macs_before else float("nan")
            lines.append(f"  MACs: {self.macs_before:,} -> {self.macs_after:,} ({ratio:.2f}x) "
                         f"at {sizes_text(self.macs_at or {})}")
        lines += grouped_violations(self.remaining)
        if self.verification is not None:
            lines.append(f"  verify: {self.verification.summary()}")
        else:
            lines.append(f"  verify: skipped ({self.verify_skipped})")
        if self.runtime_verification is not None:
            lines.append(f"  verify on the runtime: {self.runtime_verification.summary()}")
        if self.output:
            lines.append(f"  wrote {self.output}")
        return "\n".join(lines)


def grouped_violations(remaining: list, shown: int = 3) -> list[str]:
    """One line per cause (the same reason and source), with how many nodes and which first: a runtime that
    wants static sizes names its fix once, not once per node."""
    groups: dict[tuple, list] = {}
    for v in remaining:
        groups.setdefault((v.op, v.why, v.source), []).append(v.node)
    lines = []
    for (op, why, source), nodes in groups.items():
        names = ", ".join(f"'{n}'" for n in nodes[:shown]) + (", ..." if len(nodes) > shown else "")
        count = f"{len(nodes)} nodes" if len(nodes) > 1 else "node"
        lines.append(f"  still present: {count} {names} ({op}: {why} [{source}])")
    return lines
