"""The parent side of a runtime worker: looks like an onnxruntime session to verification."""
from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx

from onnxport.converter import model_io
from onnxport.converter.runtimes import info, interpreter, worker

TIMEOUT = 600           # seconds a load or a run may take before the runtime counts as hung


def _end_with_parent() -> None:
    """In the worker, before its runtime loads: DEATH_SIGNAL when onnxport dies, however it dies (kill -KILL
    included), so no worker is left running, and its folder goes with it (worker.py). Linux only: elsewhere
    the pipe's end-of-file still stops a worker between runs."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL))
    except (OSError, AttributeError):
        pass


PR_SET_PDEATHSIG = 1
DEATH_SIGNAL = signal.SIGUSR2       # one no runtime library handles (strace showed a tract worker's SIGTERM reset)


class RuntimeFailure(RuntimeError):
    """The runtime refused, crashed or hung; the message says which, in one line."""


class RuntimeSession:
    """run(None, feeds) -> outputs, like onnxruntime's, with the model in a worker process."""

    def __init__(self, name: str, model: onnx.ModelProto, folder: Path | None = None):
        self.info = info(name)
        self.folder = tempfile.TemporaryDirectory(prefix="onnxport-runtime-", ignore_cleanup_errors=True)
        path = os.path.join(self.folder.name, "model.onnx")
        copy = onnx.ModelProto()
        copy.CopyFrom(model)                        # save() repoints external tensors: not the caller's model
        model_io.save(copy, path, folder=folder)
        self.inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        self.outputs = [o.name for o in model.graph.output]
        self.process = subprocess.Popen(
            [interpreter(self.info), worker.__file__, name, path, ",".join(self.inputs), ",".join(self.outputs)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=self.folder.name)
        answer = self._answer()
        if not answer.startswith("ready "):
            raise RuntimeFailure(f"{self.info.title} does not load the model: {answer.removeprefix('error ')}")
        self.version = answer.removeprefix("ready ")
        self.count = 0

    def _answer(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        if not ready:
            self.process.kill()
            return f"error {self.info.title} did not answer in {TIMEOUT} s (hung)"
        line = self.process.stdout.readline()
        if line:
            return line.strip()
        self.process.wait()
        code = self.process.returncode
        why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
        tail = " ".join(self.process.stderr.read().split())[-300:]
        return f"error {self.info.title} crashed ({why}){': ' + tail if tail else ''}"

    def get_providers(self) -> list[str]:
        return [self.version]

    def run(self, _names, feeds: dict) -> list[np.ndarray]:
        if self.process.poll() is not None:
            raise RuntimeFailure(f"{self.info.title} is no longer running (it crashed on an earlier run)")
        self.count += 1
        path = os.path.join(self.folder.name, f"feeds{self.count}.npz")
        np.savez(path, **feeds)
        self.process.stdin.write(path + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        if not answer.startswith("ok "):
            raise RuntimeFailure(answer.removeprefix("error "))
        with np.load(answer.removeprefix("ok "), allow_pickle=False) as data:
            return [data[f"o{i}"] for i in range(len(self.outputs))]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("\n")         # the end (a bare EOF tells the worker onnxport died)
                self.process.stdin.close()
            except OSError:                             # it died meanwhile
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.folder.cleanup()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
