"""Typed errors: the library raises these, and only cli.py turns them into exit codes.

OnnxportError and its subclasses are the user's problem (bad file, bad flag, a graph onnxport cannot
handle): the CLI prints one line and exits 2. ResultError means the work ran but its result is not
acceptable (verification mismatch, target not reached): exit 1. Anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations


class OnnxportError(Exception):
    """A problem with what the user gave us; exit code 2, one line, no traceback."""

    exit_code = 2


class BadInput(OnnxportError):
    """A file that is missing, unreadable, not ONNX, or fails onnx.checker."""


class BadArgument(OnnxportError):
    """A flag or value that does not fit (unknown target, malformed --shape, ...)."""


class UnsupportedGraph(OnnxportError):
    """A graph whose nodes are inconsistent or that a requested rewrite cannot handle."""


class OutputError(OnnxportError):
    """An output path that cannot or must not be written."""


class ResultError(Exception):
    """The work ran, but its result is not acceptable (exit code 1); carries the report of that work."""

    exit_code = 1

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class VerificationMismatch(ResultError):
    """Original and rewritten model disagree beyond the tolerance."""


class TargetNotReached(ResultError):
    """Some nodes still violate the requested target after every pass ran."""


class PassError(Exception):
    """A rewrite broke the graph: a bug in onnxport, reported with the passes that ran before."""

    def __init__(self, pass_name: str, node_name: str, previous: list[str], cause: BaseException):
        ran = ", ".join(previous) or "none"
        super().__init__(f"pass '{pass_name}' failed on node '{node_name}' "
                         f"(passes that ran before: {ran}): {cause}")
        self.pass_name = pass_name


def one_line(e: BaseException) -> str:
    """An exception's whole message on one line (onnxruntime's name the node, shapes and kernel)."""
    return " ".join(str(e).split()) or type(e).__name__


def first_line(e: BaseException, limit: int = 300) -> str:
    """An exception's message cut to one line, for one-line errors."""
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__
