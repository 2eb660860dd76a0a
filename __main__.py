"""The `onnxport` console script and `python -m onnxport`.

A Ctrl-C (or SIGTERM, SIGHUP) that lands while Python imports the command line or the numerical library
has nothing to unwind: nothing is open or written yet. Unwinding it anyway, as a KeyboardInterrupt,
prints an import traceback, and inside a half-imported extension it was measured to crash the process
(SIGSEGV, SIGABRT) or to be swallowed by an import fallback (the conversion went on and exited 0). So
until cli.main has the library loaded, a stop signal is one line and the signal's exit code, at once.
This module imports nothing but os and signal, so the unguarded time is Python's own start-up (and, in an
editable install, setuptools' import hook).
"""
import os
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_at_once(signum, _frame):
    os.write(2, f"onnxport: interrupted ({signal.Signals(signum).name}); nothing written\n".encode())
    os._exit(128 + signum)


def entry() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop_at_once)
    from onnxport import cli
    cli.entry()


if __name__ == "__main__":
    entry()
