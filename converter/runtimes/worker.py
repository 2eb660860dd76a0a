"""A runtime in a process of its own: load the model once, then answer runs until stdin closes.

    python .../converter/runtimes/worker.py NAME MODEL.onnx INPUTS,... OUTPUTS,... [OWNED_FOLDER PARENT_PID]

Run as a file, and the adapter (NAME.py beside it) loaded as a file too, so that the worker needs only
numpy and the runtime: a runtime in an environment of its own has no onnxport installed.

Once the runtime library is imported the worker says `imported` (the parent bounds its memory from
there), then `ready VERSION` or `error REASON` for the model. Each request is a line holding the path of
an .npz of feeds; the answer is a line on the protocol pipe: `ok PATH` (the outputs, saved as an .npz
beside the feeds) or `error ONE-LINE-REASON`. `time N PATH` runs the feeds N times and answers `ok MS`,
the median milliseconds of one run timed here (--strategy auto: the pipe is not counted). An empty line
ends the worker; stdin closing without one (or SIGTERM, or DEATH_SIGNAL: the kernel sends it when
PARENT_PID ends, however it ends) means onnxport died, and the worker removes OWNED_FOLDER: the temporary folder its parent made for it (RuntimeSession), named
so, and nothing else (the model's own folder, run by hand, is the user's). What the runtime prints goes
to stderr (MNN prints to stdout), so the protocol stays clean.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import statistics
import sys
import time

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]         # run as a file: its folder's adapters (openvino.py, tract.py) must not shadow the runtimes

import numpy as np  # noqa: E402 - after the path is cleaned


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                                       # the runtime's own prints go to stderr
    name, path, inputs, outputs = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
    folder, parent = (sys.argv[5], int(sys.argv[6])) if len(sys.argv) > 6 else (None, None)
    for signum in (signal.SIGTERM, DEATH_SIGNAL):
        signal.signal(signum, lambda *_: _orphaned(folder))
    if parent is not None:
        _end_with_parent(parent, folder)
    try:
        adapter = _adapter(name)
        protocol.write("imported\n")                     # the parent bounds the worker's memory from here
        model = adapter.Model(path, inputs, outputs)
        protocol.write(f"ready {adapter.version()}\n")
    except Exception as e:  # noqa: BLE001 - the runtime refuses the model: that is the answer
        protocol.write(f"error {' '.join(str(e).split())[:2000] or type(e).__name__}\n")
        return
    for line in sys.stdin:
        feeds_path = line.strip()
        if not feeds_path:                  # onnxport is done with this worker
            return
        repeats, timed = 0, feeds_path.startswith("time ")      # a feeds path is absolute: never "time ..."
        if timed:
            repeats, feeds_path = feeds_path.split(" ", 2)[1:]
        try:
            with np.load(feeds_path, allow_pickle=False) as data:
                feeds = {k: data[k] for k in data.files}
            if timed:
                protocol.write(f"ok {_median_ms(model, feeds, int(repeats))}\n")
                continue
            results = model.run(feeds)
            if len(results) != len(outputs):
                raise RuntimeError(f"the runtime returned {len(results)} of the model's {len(outputs)} outputs")
            out = feeds_path[:-len(".npz")] + ".out.npz"
            np.savez(out, **{f"o{i}": np.asarray(r) for i, r in enumerate(results)})
            protocol.write(f"ok {out}\n")
        except Exception as e:  # noqa: BLE001 - one failed run is reported, the next may still run
            protocol.write(f"error {' '.join(str(e).split())[:2000] or type(e).__name__}\n")
    _orphaned(folder)                       # stdin closed without the empty line: onnxport died


def _median_ms(model, feeds: dict, repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        model.run(feeds)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


PR_SET_PDEATHSIG = 1
DEATH_SIGNAL = signal.SIGUSR2       # one no runtime library handles (strace showed a tract worker's SIGTERM reset)


def _end_with_parent(parent: int, folder: str | None) -> None:
    """Before the runtime loads: DEATH_SIGNAL when onnxport dies, however it dies (kill -KILL included), so
    no worker is left converting or waiting (the handler runs between the runtime's native calls). Linux
    only: elsewhere stdin's end-of-file still stops a worker between runs."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL))
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:          # it died before the signal was asked for
        _orphaned(folder)


OWNED_PREFIX = "onnxport-runtime-"        # RuntimeSession's temporary folders: the only ones a worker removes


def _orphaned(folder: str | None) -> None:
    """onnxport died (the parent-death signal) or stops this worker: the folder it was given (the model,
    the feeds) goes, where it is one of onnxport's temporary folders."""
    if folder and os.path.basename(os.path.normpath(folder)).startswith(OWNED_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(143)


def _adapter(name: str):
    spec = importlib.util.spec_from_file_location(f"onnxport_runtime_{name}",
                                                  os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
