"""How fast the command line answers without doing work: --help, a usage error and a mistyped model path,
each a fresh process, against a bare `python -c pass`, in interleaved rounds (benchmarks.common.compare).

The library (onnx, onnxruntime, numpy) is imported only when a command runs, so these stay near the
interpreter's own start; the goal is under 0.5 s each (issues 14 and 16).

    python benchmarks/bench_startup.py [--budget 10]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import compare, load_text, timing_parser  # noqa: E402

CLI = "from onnxport import cli; raise SystemExit(cli.main(sys.argv[1:]))"
FORMS = {
    "python -c pass": ["-c", "pass"],
    "onnxport --help": ["-c", "import sys; " + CLI, "--help"],
    "onnxport convert --bogus": ["-c", "import sys; " + CLI, "convert", "--bogus"],
    "onnxport convert missing.onnx": ["-c", "import sys; " + CLI, "convert", "missing.onnx", "-o", "x.onnx"],
}


def main(argv=None) -> int:
    args = timing_parser(__doc__).parse_args(argv)
    print(load_text() + " (before)")
    with tempfile.TemporaryDirectory() as folder:
        run = lambda extra: subprocess.run([sys.executable, *extra], cwd=folder, capture_output=True)   # noqa: E731
        result = compare({name: (lambda e=extra: run(e)) for name, extra in FORMS.items()}, "python -c pass",
                         budget_s=args.budget, repeats=1)
    print("| command | s, median (min-max) | - python -c pass, median |\n|---|---|---|")
    floor = result.ms["python -c pass"].median
    for name in FORMS:
        ms = result.ms[name]
        print(f"| {name} | {ms.median / 1000:.3f} ({ms.low / 1000:.3f}-{ms.high / 1000:.3f}) | "
              f"{(ms.median - floor) / 1000:.3f} |")
    print(f"{result.rounds} rounds; " + load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
