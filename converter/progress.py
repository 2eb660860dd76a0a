"""Progress of long work (large conversions, verification over many sizes), as one line kept up to date.

The library says what it is doing through say(); nothing is shown unless a caller asked for it with
showing(). The CLI does so only when stderr is a terminal, so logs and pipes get nothing extra.
"""
from __future__ import annotations

import contextlib
import sys
import time
from contextvars import ContextVar
from typing import Callable

_sink: ContextVar[Callable[[str], None] | None] = ContextVar("onnxport_progress", default=None)


def say(message: str) -> None:
    sink = _sink.get()
    if sink is not None:
        sink(message)


@contextlib.contextmanager
def showing(sink: Callable[[str], None] | None):
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def terminal_line(stream=None) -> Callable[[str], None] | None:
    """A sink that rewrites one stderr line with the elapsed time, or None when stderr is no terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    start = time.monotonic()
    width = [0]

    def show(message: str) -> None:
        line = f"onnxport [{time.monotonic() - start:6.1f}s] {message}"[:120]
        stream.write("\r" + line.ljust(width[0]))
        stream.flush()
        width[0] = len(line)

    return show


def clear(stream=None) -> None:
    """End the progress line (before the result is printed)."""
    stream = stream or sys.stderr
    if stream.isatty():
        stream.write("\r\033[K")
        stream.flush()
