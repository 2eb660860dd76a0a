#!/usr/bin/env bash
# The full hostile-file sweep: 5,000 mutated models (byte flips, truncation, huge/negative dims, bad
# strides, attributes that contradict their inputs, cycles, duplicate names, missing initializers,
# opsets 1-16 and from the future, If bodies, external data attacks) through convert, verify, inspect,
# shapes and sizes, each with careless or hostile outputs. Any traceback, hang (60 s a case), file written on error or changed
# input fails it; the statistics give the exit codes per mutation. CI runs the same test at 1,000. The
# cases are derandomized (tests/conftest.py's hypothesis profile): every run throws the same files.
#     benchmarks/fuzz_sweep.sh [EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-5000}"
echo "fuzz sweep: $examples cases, load average $(cut -d' ' -f1 /proc/loadavg)"
start=$(date +%s)
ONNXPORT_FUZZ_EXAMPLES="$examples" python -m pytest tests/test_fuzz.py -q -s -p no:cacheprovider \
    --hypothesis-show-statistics
echo "fuzz sweep: $(( $(date +%s) - start )) s"
