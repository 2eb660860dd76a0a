"""What a conversion did, as data (for --report JSON) and as a short human summary."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from onnxport.converter.verify import VerifyResult, shapes_text
from onnxport.passes._driver import PassReport


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
    output: str | None = None
    fuse: bool = False
    alignment: object = None       # how verification lines outputs up (verify.Alignment)
    extras: list = field(default_factory=list)     # dense, pad-to-valid: what ran after the targets
    profile: str | None = None
    choices: list = field(default_factory=list)    # --strategy auto: auto_strategy.Choice per ConvTranspose
    verify_skipped: str = "--no-verify"            # why there is no verification, when there is none

    def as_dict(self) -> dict:
        return {
            "source": self.source, "output": self.output, "targets": self.targets, "strategy": self.strategy,
            "fuse": self.fuse,
            "nodes": {"before": self.nodes_before, "after": self.nodes_after},
            "ops": {"before": dict(self.ops_before), "after": dict(self.ops_after)},
            "passes": [p.as_dict() for p in self.passes],
            "macs": {"before": self.macs_before, "after": self.macs_after, "at": self.macs_at},
            "remaining": [v.as_dict() for v in self.remaining],
            "profile": self.profile, "strategy_choices": [c.as_dict() for c in self.choices],
            "verification": self.verification.as_dict() if self.verification else None,
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
                         f"at {shapes_text(self.macs_at or {})}")
        for v in self.remaining:
            lines.append(f"  still present: '{v.node}' ({v.text()})")
        if self.verification is not None:
            lines.append(f"  verify: {self.verification.summary()}")
        else:
            lines.append(f"  verify: skipped ({self.verify_skipped})")
        if self.output:
            lines.append(f"  wrote {self.output}")
        return "\n".join(lines)
