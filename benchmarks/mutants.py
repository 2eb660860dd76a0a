"""Do the tests bite? Small wrong changes to the core arithmetic, each of which some test must catch.

Each mutant edits one line of a copy of the checkout (never this tree), runs the tests named for it in
that copy (PYTHONPATH makes the copy the onnxport its tests import; tests/conftest.py stops a session
that would import another), and counts as killed when they fail. Prints one row per mutant and the
totals; exit 1 when one survives.

    python benchmarks/mutants.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant("verify bound 10x looser", "converter/verify.py", "err <= bound, err", "err <= 10 * bound, err",
           ("tests/converter/test_verify.py",)),
    Mutant("verify bound from max|b|", "converter/verify.py", "ref_max = float(np.max(np.abs(a[finite])))",
           "ref_max = float(np.max(np.abs(b[finite])))", ("tests/converter/test_verify.py",)),
    Mutant("fuse-back SAME_UPPER/LOWER swapped", "passes/_conv_patterns.py",
           'begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]',
           'begin = [t // 2 if auto_pad == "SAME_LOWER" else t - t // 2 for t in total]',
           ("tests/passes/test_upsample_conv_to_convtranspose.py",)),
    Mutant("ConvTranspose SAME_* swapped", "passes/_convtranspose.py",
           'total = max(0, op + probe.effective_kernel - s)\n            begin = total // 2 if auto_pad == "SAME_UPPER"',
           'total = max(0, op + probe.effective_kernel - s)\n            begin = total // 2 if auto_pad == "SAME_LOWER"',
           ("tests/passes/test_normalize_convtranspose_padding.py", "tests/passes/test_convtranspose_to_subpixel.py")),
    Mutant("ConvTranspose length without output_padding", "passes/_convtranspose.py",
           "return self.stride * (length - 1) + self.output_padding + self.effective_kernel",
           "return self.stride * (length - 1) + self.effective_kernel",
           ("tests/passes/test_convtranspose_to_subpixel.py",)),
    Mutant("effective kernel ignores dilation", "passes/_convtranspose.py",
           "return self.dilation * (self.kernel - 1) + 1", "return self.kernel",
           ("tests/passes/test_convtranspose_to_subpixel.py",)),
    Mutant("size analysis: Conv floor off by one", "converter/length_rules.py",
           "numerator = plus(length, const(begin + end - d * (k - 1) - 1))",
           "numerator = plus(length, const(begin + end - d * (k - 1)))",
           ("tests/converter/test_admissible_sizes.py",)),
    Mutant("size analysis: SAME is floor, not ceil", "converter/length_rules.py",
           "for c, q, rem in cls.floor_div(plus(length, const(s - 1)), s):",
           "for c, q, rem in cls.floor_div(length, s):", ("tests/converter/test_admissible_sizes.py",)),
    Mutant("size analysis: ceil_mode ignored", "converter/length_rules.py",
           "ceil_mode = node.attrs.get(\"ceil_mode\", 0) and node.op != \"Conv\"", "ceil_mode = 0",
           ("tests/converter/test_admissible_sizes.py",)),
    Mutant("resize to scales: float check skipped", "passes/resize_sizes_to_scales.py",
           "if any(math.floor(float(sc) * n) != s for sc, n, s in zip(scales, exported, sizes)):",
           "if False:", ("tests/converter/test_size_edits.py", "tests/passes/test_resize_forms.py")),
    Mutant("image-size Resize read as fixed", "passes/_resize.py",
           "return next((name for name, dims in images if dims[axis] == value), None)", "return None",
           ("tests/converter/test_size_edits.py",)),
    Mutant("free-baked slice end not freed", "passes/free_baked_sizes.py",
           "ends[i], changed = INT64_MAX, True", "changed = True", ("tests/converter/test_size_edits.py",
                                                                    "tests/converter/test_admissible_sizes.py")),
    Mutant("attribute check: kernel_shape vs weight off", "converter/attribute_checks.py",
           "if weight is not None and kernel is not None and tuple(kernel) != weight[2:]:", "if False:",
           ("tests/cli/test_malformed_attributes.py",)),
]


def copy_checkout(into: Path) -> Path:
    """The tracked files under into/onnxport."""
    root = into / "onnxport"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        source = ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def pytest(root: Path, tests) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                          cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root.parent), "PATH": "/usr/bin:/bin", "HOME": str(root.parent)})


def run(mutant: Mutant, root: Path) -> tuple[bool, float]:
    target = root / mutant.file
    text = target.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(f"mutant '{mutant.name}': its line is not in {mutant.file} exactly once (update MUTANTS)")
    target.write_text(text.replace(mutant.old, mutant.new))
    started = time.monotonic()
    try:
        done = pytest(root, mutant.tests)
    finally:
        target.write_text(text)
    return done.returncode != 0, time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutant names (substrings)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or any(o in m.name for o in args.only)]
    survivors = []
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_checkout(Path(tmp))
        baseline = pytest(root, sorted({t for m in chosen for t in m.tests}))
        if baseline.returncode != 0:               # a kill must be the mutant's, not a broken copy's
            raise SystemExit("the unmutated copy fails its tests:\n" + (baseline.stdout + baseline.stderr)[-2000:])
        for mutant in chosen:
            killed, took = run(mutant, root)
            print(f"{'killed  ' if killed else 'SURVIVED'} {took:6.1f}s  {mutant.name}  ({mutant.file})", flush=True)
            if not killed:
                survivors.append(mutant.name)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants killed" +
          (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
