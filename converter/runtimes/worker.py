"""A runtime in a process of its own: load the model once, then answer runs until stdin closes.

    python -m onnxport.converter.runtimes.worker NAME MODEL.onnx INPUTS,... OUTPUTS,...

Each request is a line holding the path of an .npz of feeds; the answer is a line on the protocol pipe:
`ok PATH` (the outputs, saved as an .npz beside the feeds) or `error ONE-LINE-REASON`. What the runtime
prints goes to stderr (MNN prints to stdout), so the protocol stays clean.
"""
from __future__ import annotations

import importlib
import os
import sys

import numpy as np


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                                       # the runtime's own prints go to stderr
    name, path, inputs, outputs = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
    try:
        adapter = importlib.import_module(f"onnxport.converter.runtimes.{name}")
        model = adapter.Model(path, inputs, outputs)
        protocol.write(f"ready {adapter.version()}\n")
    except Exception as e:  # noqa: BLE001 - the runtime refuses the model: that is the answer
        protocol.write(f"error {' '.join(str(e).split())[:2000] or type(e).__name__}\n")
        return
    for line in sys.stdin:
        feeds_path = line.strip()
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


if __name__ == "__main__":
    main()
