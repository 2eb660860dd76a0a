#!/usr/bin/env bash
# The CUDA proof in one command (under 8 minutes on one GPU): a fresh venv with onnxport[test,cuda], then
# benchmarks/gpu_check.py (onnxport --version, the CUDA-marked tests, verify on CUDA and CUDA vs CPU over
# the examples and the zoo, the ConvTranspose benchmark on CUDA), each section time-boxed. Where CUDA does
# not load, every CUDA section says "CUDA unavailable: <reason>" and the script still ends with exit 0.
#
#   benchmarks/gpu_check.sh [OUT_DIR] [--reuse-env] [--quick] [--rehearse-on-cpu]
#
# OUT_DIR (default gpu_check/) gets gpu_check.json, gpu_check.md and install.log. --reuse-env runs in the
# current Python instead of installing a fresh venv (the CI dry run); --quick: three models, a short bench;
# --rehearse-on-cpu: the verify and bench sections on the CPU (every step of the GPU day, without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu_check; reuse=0; quick=()
for arg in "$@"; do
  case "$arg" in
    --reuse-env) reuse=1 ;;
    --quick|--rehearse-on-cpu) quick+=("$arg") ;;
    -*) echo "gpu_check.sh: unknown option $arg" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
mkdir -p "$out"
python=${PYTHON:-python3}          # --reuse-env: this interpreter (PYTHON=..., else python3 on PATH)
if [ "$reuse" = 0 ]; then
  venv="$out/venv"
  timeout 240 "$python" -m venv "$venv"
  timeout 240 "$venv/bin/pip" install -q -e '.[test,cuda]' > "$out/install.log" 2>&1 \
    || { echo "gpu_check.sh: installing onnxport[test,cuda] failed (see $out/install.log)" >&2; exit 1; }
  python="$venv/bin/python"
fi
exec timeout 480 "$python" benchmarks/gpu_check.py --out "$out" "${quick[@]}"
