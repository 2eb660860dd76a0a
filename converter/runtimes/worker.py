"""A runtime in a process of its own: load the model once, then answer runs until stdin closes.

    python .../converter/runtimes/worker.py NAME MODEL.onnx INPUTS,... OUTPUTS,...

Run as a file, and the adapter (NAME.py beside it) loaded as a file too, so that the worker needs only
numpy and the runtime: a runtime in an environment of its own has no onnxport installed.

Once the runtime library is imported the worker says `imported` (the parent bounds its memory from
there), then `ready VERSION` or `error REASON` for the model. Each request is a line holding the path of an .npz of feeds; the answer is a line on the protocol pipe:
`ok PATH` (the outputs, saved as an .npz beside the feeds) or `error ONE-LINE-REASON`. An empty line
ends the worker; stdin closing without one means onnxport died, and the worker removes its folder. What the runtime
prints goes to stderr (MNN prints to stdout), so the protocol stays clean.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]         # run as a file: its folder's adapters (openvino.py, tract.py) must not shadow the runtimes

import numpy as np  # noqa: E402 - after the path is cleaned


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                                       # the runtime's own prints go to stderr
    name, path, inputs, outputs = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
    folder = os.path.dirname(os.path.abspath(path))
    for signum in (signal.SIGTERM, signal.SIGUSR2):      # SIGUSR2: onnxport died (session.DEATH_SIGNAL)
        signal.signal(signum, lambda *_: _orphaned(folder))
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
        try:
            with np.load(feeds_path, allow_pickle=False) as data:
                feeds = {k: data[k] for k in data.files}
            results = model.run(feeds)
            if len(results) != len(outputs):
                raise RuntimeError(f"the runtime returned {len(results)} of the model's {len(outputs)} outputs")
            out = feeds_path[:-len(".npz")] + ".out.npz"
            np.savez(out, **{f"o{i}": np.asarray(r) for i, r in enumerate(results)})
            protocol.write(f"ok {out}\n")
        except Exception as e:  # noqa: BLE001 - one failed run is reported, the next may still run
            protocol.write(f"error {' '.join(str(e).split())[:2000] or type(e).__name__}\n")
    _orphaned(folder)                       # stdin closed without the empty line: onnxport died


def _orphaned(folder: str) -> None:
    """onnxport died (the parent-death signal) or stops this worker: its folder (the model, the feeds) goes."""
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
