"""The parent side of a runtime worker: looks like an onnxruntime session to verification."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnx

from onnxport.converter.files import model_io
from onnxport.converter.runtimes import info, interpreter, worker

TIMEOUT = 600           # seconds a load or a run may take before the runtime counts as hung
POLL_S = 0.05           # how often a waiting parent reads the worker's resident memory
SLACK = 256 << 20       # the runtime's own buffers and arenas, beyond the activations and the model


class RuntimeFailure(RuntimeError):
    """The runtime refused, crashed or hung; the message says which, in one line."""


class _MemoryBound:
    """A worker's resident memory, read from /proc while the parent waits for it: past the bound the worker
    is killed (an rlimit on address space breaks runtimes that reserve more than they touch: TensorFlow,
    OpenVINO). The bound: what the worker held once its runtime library was imported, plus the model's
    files 4 times (the runtime's copies of the weights), twice --max-memory of activations, and SLACK.
    Where /proc is absent, only the time limit holds."""

    def __init__(self, pid: int, max_memory: int, model_bytes: int):
        self.pid, self.max_memory, self.model_bytes = pid, max_memory, model_bytes
        self.limit: int | None = None

    def start(self) -> None:
        held = self._resident()
        if held is not None:
            self.limit = held + 4 * self.model_bytes + 2 * self.max_memory + SLACK

    def exceeded(self) -> str:
        held = self._resident() if self.limit is not None else None
        if held is None or held <= self.limit:
            return ""
        return (f"took {held / 2**20:.0f} MiB, over the {self.limit / 2**20:.0f} MiB it may (twice --max-memory "
                f"{self.max_memory / 2**20:.0f} MiB of activations, the model's weights 4 times, the runtime "
                f"itself); give more with --max-memory")

    def _resident(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None


def _bytes_on_disk(folder: str) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())


def _outputs_through_identity(graph: onnx.GraphProto) -> None:
    """Each graph output a node computes is handed on by an Identity (a no-op), for runtimes that lose an
    output's name when they fuse the node that computes it (RuntimeInfo.outputs_through_identity)."""
    for output in graph.output:
        inner = f"{output.name}/before_identity"
        producers = [n for n in graph.node if output.name in n.output]
        if not producers:                           # an input or a weight handed straight out
            continue
        for node in graph.node:
            node.output[:] = [inner if o == output.name else o for o in node.output]
            node.input[:] = [inner if i == output.name else i for i in node.input]
        graph.node.append(onnx.helper.make_node("Identity", [inner], [output.name]))


class RuntimeSession:
    """run(None, feeds) -> outputs, like onnxruntime's, with the model in a worker process."""

    def __init__(self, name: str, model: onnx.ModelProto, folder: Path | None = None, max_memory: int = 1 << 30):
        self.info = info(name)
        self.folder = tempfile.TemporaryDirectory(prefix=worker.OWNED_PREFIX, ignore_cleanup_errors=True)
        path = os.path.join(self.folder.name, "model.onnx")
        copy = onnx.ModelProto()
        copy.CopyFrom(model)                        # save() repoints external tensors: not the caller's model
        if self.info.outputs_through_identity:
            _outputs_through_identity(copy.graph)
        model_io.save(copy, path, folder=folder)
        self.inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        self.outputs = [o.name for o in model.graph.output]
        self.process = subprocess.Popen(
            [interpreter(self.info), worker.__file__, name, path, ",".join(self.inputs), ",".join(self.outputs),
             self.folder.name, str(os.getpid())], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=self.folder.name)
        self.memory = _MemoryBound(self.process.pid, max_memory, _bytes_on_disk(self.folder.name))
        self._pending = b""                         # protocol bytes read past the last line answered
        answer = self._answer()
        if answer == "imported":                # the runtime library is in: what the worker holds from here on is bounded
            self.memory.start()
            answer = self._answer()
        if not answer.startswith("ready "):
            raise RuntimeFailure(f"{self.info.title} does not load the model: {answer.removeprefix('error ')}")
        self.version = answer.removeprefix("ready ")
        self.count = 0

    def _answer(self) -> str:
        """The worker's next protocol line, read from the pipe's descriptor itself (a buffered readline
        would take two lines at once and leave select waiting for the second, which it already holds)."""
        deadline = time.monotonic() + TIMEOUT
        fd = self.process.stdout.fileno()
        while b"\n" not in self._pending:
            if not select.select([fd], [], [], POLL_S)[0]:
                over = self.memory.exceeded()
                if over:
                    self.process.kill()
                    self.process.wait()
                    return f"error {self.info.title} {over}; stopped"
                if time.monotonic() > deadline:
                    self.process.kill()
                    return f"error {self.info.title} did not answer in {TIMEOUT} s (hung)"
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return self._crashed()
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def _crashed(self) -> str:
        self.process.wait()
        code = self.process.returncode
        why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
        tail = " ".join(self.process.stderr.read().split())[-300:]
        return f"error {self.info.title} crashed ({why}){': ' + tail if tail else ''}"

    def get_providers(self) -> list[str]:
        return [self.version]

    def run(self, _names, feeds: dict) -> list[np.ndarray]:
        self.count += 1
        path = os.path.join(self.folder.name, f"feeds{self.count}.npz")
        np.savez(path, **feeds)
        self._request(path)
        answer = self._answer()
        if not answer.startswith("ok "):
            raise RuntimeFailure(answer.removeprefix("error "))
        with np.load(answer.removeprefix("ok "), allow_pickle=False) as data:
            return [data[f"o{i}"] for i in range(len(self.outputs))]

    def timer(self, feeds: dict) -> Callable[[int], float]:
        """timer(n): the median milliseconds of one of n runs of these feeds, timed inside the worker (the
        feeds are written once; converter.timing compares runtimes' forms with it)."""
        path = os.path.join(self.folder.name, f"timing{id(feeds)}.npz")
        np.savez(path, **feeds)

        def median_ms(repeats: int) -> float:
            self._request(f"time {repeats} {path}")
            answer = self._answer()
            if not answer.startswith("ok "):
                raise RuntimeFailure(answer.removeprefix("error "))
            return float(answer.removeprefix("ok "))
        return median_ms

    def _request(self, line: str) -> None:
        if self.process.poll() is not None:
            raise RuntimeFailure(f"{self.info.title} is no longer running (it crashed on an earlier run)")
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

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
