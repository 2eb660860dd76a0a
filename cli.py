"""onnxport command line: argparse over converter.api, nothing else.

Exit codes: 0 done (or equivalent), 1 the result is not acceptable (verification mismatch, target not
reached), 2 bad input or usage (one line on stderr, nothing written). Any other exception is a bug and
keeps its traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys

if not __package__:         # `python cli.py`: this folder is the onnxport package, whatever else is installed
    import importlib.util
    _root = os.path.dirname(os.path.abspath(__file__))
    _installed = importlib.util.find_spec("onnxport")
    if _installed is None or os.path.dirname(os.path.abspath(_installed.origin or "")) != _root:
        _spec = importlib.util.spec_from_file_location("onnxport", os.path.join(_root, "__init__.py"),
                                                       submodule_search_locations=[_root])
        sys.modules["onnxport"] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules["onnxport"])

from onnxport.__main__ import STOP_SIGNALS, stop_at_once  # noqa: E402
from onnxport.converter import progress  # noqa: E402
from onnxport.converter.files import model_paths
from onnxport.errors import BadArgument, OnnxportError, ResultError  # noqa: E402

# The library (onnx, onnxruntime, numpy) is imported once a command runs, after the signal handlers are
# in place: argparse and --help need none of it, and Ctrl-C while importing must be one line too.
api = parse_shape_args = None


def _load_library() -> None:
    global api, parse_shape_args
    from onnxport.converter import api
    from onnxport.converter.input_specs import parse_shape_args


PAD_MODES = {"zero": "constant", "edge": "edge", "reflect": "reflect"}
STRATEGIES = ("subpixel", "resize-conv", "convtranspose2d", "auto", "conv2d")  # converter.pipeline: STRATEGIES, auto, aliases
PROVIDERS = ("auto", "cuda", "cpu")
RUNTIMES = ("openvino", "opencv", "tract", "mnn", "onnx2torch", "tflite")    # converter.runtimes.RUNTIMES
STDOUT = "-"
MAX_SECONDS = 900.0             # a backstop for any command; a valid model needs seconds to a few minutes


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        print(f"onnxport: error: {message} (see onnxport -h)", file=sys.stderr)
        raise SystemExit(2)


def _note(text: str) -> None:
    print(f"onnxport: note: {text}", file=sys.stderr)


def _json_arg(p: argparse.ArgumentParser, what: str) -> None:
    """--json FILE everywhere; --json alone or --json - prints it instead of the text."""
    p.add_argument("--json", nargs="?", const=STDOUT, metavar="FILE",
                   help=f"write {what} as JSON to FILE (--json or --json - : to stdout, instead of the text)")


def _html_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--html", metavar="FILE", help=f"write {what} as one self-contained HTML page (pictures, offline)")


def _verify_args(p: argparse.ArgumentParser, shape: bool = True) -> None:
    if shape:
        p.add_argument("--shape", action="append", metavar="NAME=DIMS",
                       help="the input size verification runs at, e.g. x=1x3x64x64 (sizes are chosen otherwise)")
    p.add_argument("--atol", action="append", metavar="[NAME=]X",
                   help="absolute tolerance (default 1e-4); NAME=X for one output; repeatable")
    p.add_argument("--rtol", action="append", metavar="[NAME=]X",
                   help="tolerance relative to max|a| (default 1e-4); NAME=X for one output; repeatable")
    p.add_argument("--provider", default="auto", choices=PROVIDERS, help="auto (CUDA when it loads, else CPU)")
    p.add_argument("--runs", type=int, default=3, help="input draws / sizes to compare (default 3)")
    p.add_argument("--max-memory", default="1G", metavar="SIZE",
                   help="activation memory one verification run may take, e.g. 512M, 4G (default 1G): larger "
                        "admissible sizes are passed over, a run where one tensor alone exceeds it is refused, "
                        "and a runtime worker (--runtime) is stopped past twice it plus the model and the runtime")


def _verify_options(args) -> api.VerifyOptions:
    atol, atol_for = _tolerances(args.atol, "--atol")
    rtol, rtol_for = _tolerances(args.rtol, "--rtol")
    per_output = tuple((name, atol_for.get(name, atol), rtol_for.get(name, rtol)) for name in {**atol_for, **rtol_for})
    return api.VerifyOptions(shapes=parse_shape_args(getattr(args, "shape", None)), atol=atol, rtol=rtol,
                             provider=args.provider, runs=args.runs,
                             max_memory=_bytes(args.max_memory, "--max-memory"), per_output=per_output,
                             inputs=getattr(args, "inputs_file", None), expected=getattr(args, "expected", None),
                             runtime=getattr(args, "runtime", None))


def _tolerances(given: list[str] | None, flag: str) -> tuple[float, dict[str, float]]:
    """--atol 1e-4 --atol y=1e-3: the default and the per-output values."""
    default, per_output = 1e-4, {}
    for text in given or []:
        name, _, value = text.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise BadArgument(f"{flag} {text}: expected a number, or NAME=number for one output") from None
        if name:
            per_output[name] = number
        else:
            default = number
    return default, per_output


def _bytes(text: str, flag: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = text.strip().upper().rstrip("B") or "x", ""
    if number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise BadArgument(f"{flag} {text}: expected a size like 512M or 2G") from None
    if not value >= 1 << 20:
        raise BadArgument(f"{flag} {text}: at least 1M")
    return int(value)


def _fix_sizes_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--fix-sizes", action="append", metavar="NAME=DIMS", help=what)


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", action="append",
                   help="what must not remain (default no-convtranspose3d, none with --fuse), or a runtime "
                        "profile (coreml, nnapi, ... or ./myruntime.toml); repeatable")
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="which exact rewrite (default subpixel, or the profile's); auto times the allowed forms per node; "
                        "conv2d is convtranspose2d's earlier name")
    p.add_argument("--max-rank", type=int, help="no tensor a rewrite creates may exceed this rank")
    _fix_sizes_arg(p, "fix an input's size first (runtimes that want static graphs), e.g. X=1x1x16x24x32")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="onnxport", description="Port ONNX models onto runtimes that lack an operator, exactly.")
    parser.add_argument("--version", action="store_true",
                        help="onnxport, onnx and onnxruntime versions, and the execution provider that loads here")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("convert", help="rewrite a model for a target and verify it")
    p.add_argument("input", help="model file, or example:NAME")
    p.add_argument("-o", "--output", required=True, help="where to write the converted model")
    _target_args(p)
    p.add_argument("--fuse", action="store_true",
                   help="fold chains back into single ops first (onnxport's own lowerings, Resize+Conv, ...)")
    p.add_argument("--no-timing", action="store_true", help="with --strategy auto: choose without timing")
    p.add_argument("--no-verify", action="store_true", help="skip the numerical check before writing")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--allow-partial", action="store_true", help="write even if some nodes still violate the target")
    _json_arg(p, "the conversion report")
    _html_arg(p, "the conversion: each rewrite before and after, error histograms")
    p.add_argument("--report", metavar="FILE", help=argparse.SUPPRESS)          # the old spelling of --json FILE
    p.add_argument("--dense", action="store_true",
                   help="slide a fully convolutional net in steps of 1 (strides 1, dilations multiplied)")
    p.add_argument("--pad-to-valid", action="store_true",
                   help="pad inputs to the next admissible size, crop size-preserving outputs back")
    p.add_argument("--pad-mode", default="zero", choices=list(PAD_MODES), help="with --pad-to-valid")
    p.add_argument("--verify-on", choices=RUNTIMES,
                   help="also verify the result on this runtime (its extra installed: pip install 'onnxport[NAME]')")
    _verify_args(p)
    p.set_defaults(run=_convert)

    for name, what in (("strip-sizes", "make input sizes symbolic so the net runs at other sizes"),
                       ("fix-sizes", "fix input sizes and fold the shape arithmetic (static graphs)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("input", help="model file, or example:NAME")
        p.add_argument("-o", "--output", required=True, help="where to write the model")
        p.add_argument("--force", action="store_true", help="overwrite existing outputs")
        p.add_argument("--no-verify", action="store_true", help="skip the numerical check before writing")
        _json_arg(p, "the report")
        if name == "strip-sizes":
            p.add_argument("--input", action="append", dest="inputs", help="input to free (default: image-like ones)")
            p.add_argument("--axes", help="axes to free, e.g. 2,3 (default: batch and spatial)")
            p.set_defaults(run=_strip_sizes)
            _verify_args(p)
        else:
            _fix_sizes_arg(p, "the size to fix an input at, e.g. X=1x1x64x64x64 (repeatable)")
            p.add_argument("--shape", action="append", metavar="NAME=DIMS", help=argparse.SUPPRESS)  # old spelling
            p.set_defaults(run=_fix_sizes)
            _verify_args(p, shape=False)

    p = sub.add_parser("verify", help="check two models compute the same outputs")
    p.add_argument("a", help="reference model (file or example:NAME)")
    p.add_argument("b", nargs="?", help="model to check against it (default: A itself, with --against-provider)")
    p.add_argument("--against-provider", choices=PROVIDERS[1:],
                   help="run B (or A) on this provider and A on --provider: a cross-provider check, e.g. CUDA vs cpu")
    _json_arg(p, "the comparison")
    _html_arg(p, "the comparison: error histograms per output and size")
    p.add_argument("--force", action="store_true", help="replace existing JSON and HTML files")
    p.add_argument("--unit-dims", action="store_true",
                   help="B's outputs may add trailing dims of size 1 (a head made fully convolutional)")
    p.add_argument("--sample-strides", metavar="S,S", help="compare every S-th output position of B (a --dense net)")
    p.add_argument("--inputs", dest="inputs_file", metavar="FILE",
                   help="run at these saved inputs (.npz by input name, or Polygraphy --save-inputs JSON)")
    p.add_argument("--runtime", choices=RUNTIMES,
                   help="run B on this runtime (in a process of its own) and A on onnxruntime; install its extra: "
                        "pip install 'onnxport[NAME]'")
    p.add_argument("--expected", metavar="FILE",
                   help="compare B (or A alone) with these outputs, e.g. what PyTorch computed for --inputs "
                        "(.npz by output name, or Polygraphy --save-outputs JSON)")
    _verify_args(p)
    p.set_defaults(run=_verify)

    p = sub.add_parser("inspect", help="what a target or runtime cannot run, why (with sources), and whether "
                                       "convert can rewrite it; exit 0 when nothing would remain")
    p.add_argument("input", help="model file, or example:NAME")
    _target_args(p)
    _json_arg(p, "the findings")
    p.add_argument("--force", action="store_true", help="replace an existing JSON file")
    p.set_defaults(run=_inspect)

    p = sub.add_parser("shapes", help="output shape of every node, and the sizes each ConvTranspose allows")
    p.add_argument("input", help="model file, or example:NAME")
    p.add_argument("--shape", action="append", metavar="NAME=DIMS", help="the input size to infer shapes at")
    _json_arg(p, "the shapes")
    p.add_argument("--force", action="store_true", help="replace an existing JSON file")
    p.set_defaults(run=_shapes)

    p = sub.add_parser("sizes", help="per input axis: the sizes the net runs at (joins matching) and those "
                                     "at which it loses nothing, with the node that decides each")
    p.add_argument("input", help="model file, or example:NAME")
    _json_arg(p, "the sizes")
    _html_arg(p, "the sizes: each axis's admissible sizes on a number line")
    p.add_argument("--check-up-to", type=int, default=48, metavar="N",
                   help="run the model on onnxruntime at lengths 1..N of each axis, so only what ran or what the "
                        "analysis proves is claimed (default 48; 0: the analysis alone)")
    p.add_argument("--force", action="store_true", help="replace existing JSON and HTML files")
    p.set_defaults(run=_sizes)

    p = sub.add_parser("report", help="render a JSON report written earlier (convert, verify, sizes) as HTML")
    p.add_argument("input", metavar="REPORT.json", help="the JSON report")
    p.add_argument("--html", metavar="FILE", required=True, help="where to write the page")
    p.add_argument("--force", action="store_true", help="replace an existing HTML file")
    p.set_defaults(run=_report)

    p = sub.add_parser("passes", help="list the rewrites, targets and examples")
    p.set_defaults(run=_passes)
    for p in sub.choices.values():
        p.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                       help=f"stop with nothing written after S seconds of wall time (default {MAX_SECONDS:.0f}; "
                            f"0: no limit); the budgets inside each command end far sooner and say so")
    return parser


def _targets(args) -> list[str] | None:
    return [t.strip() for arg in args.target for t in arg.split(",") if t.strip()] if args.target else None


def _json_file(args) -> str | None:
    """Where the JSON goes as a file (None: nowhere, or stdout)."""
    return None if args.json in (None, STDOUT) else args.json


def _show(result, args) -> None:
    """The text, or the JSON on stdout when asked for."""
    _out(json.dumps(result.to_dict(), indent=1) if args.json == STDOUT else result.text())


def _convert(args) -> int:
    if args.report:
        _note("--report FILE is now --json FILE (the same for every command); --report still works for now")
        args.json = args.json or args.report
    try:
        options = api.ConvertOptions(targets=_targets(args), strategy=args.strategy, max_rank=args.max_rank,
                                     fuse=args.fuse, dense=args.dense,
                                     pad_to_valid=PAD_MODES[args.pad_mode] if args.pad_to_valid else None,
                                     timing=not args.no_timing, provider=args.provider,
                                     fix_sizes=parse_shape_args(args.fix_sizes, "--fix-sizes") or None)
        report = api.convert(args.input, args.output, options, verify=not args.no_verify,
                             verify_options=_verify_options(args), force=args.force, allow_partial=args.allow_partial,
                             report=_json_file(args), verify_on=args.verify_on, html=args.html)
    except ResultError as e:      # no model written; the report was (to --json FILE, and here)
        _show(e.report, args)
        raise
    _show(report, args)
    return 0


def _inspect(args) -> int:
    options = api.ConvertOptions(targets=_targets(args), strategy=args.strategy, max_rank=args.max_rank,
                                 fix_sizes=parse_shape_args(args.fix_sizes, "--fix-sizes") or None)
    found = api.inspect(args.input, options, report=_json_file(args), force=args.force)
    _show(found, args)
    return 0 if found.convertible else 1


def _out(text: str) -> None:
    """Results go to stdout, after the progress line (if any) is cleared."""
    progress.clear()
    print(text)


def _verify(args) -> int:
    strides = tuple(_ints(args.sample_strides, "--sample-strides")) if args.sample_strides else ()
    result = api.verify(args.a, args.b, _verify_options(args), api.Alignment(args.unit_dims, strides),
                        args.against_provider, report=_json_file(args), force=args.force, html=args.html)
    _out(json.dumps(result.to_dict(), indent=1) if args.json == STDOUT else result.summary())
    return 0 if result.ok else 1


def _strip_sizes(args) -> int:
    axes = _ints(args.axes, "--axes") if args.axes else None
    report = api.strip_sizes(args.input, args.output, inputs_=args.inputs, axes=axes, verify=not args.no_verify,
                             verify_options=_verify_options(args), force=args.force, report=_json_file(args))
    _show(report, args)
    return 0


def _fix_sizes(args) -> int:
    if args.shape:
        _note("fix-sizes --shape is now --fix-sizes (as in convert and inspect); --shape still works for now")
    wanted = parse_shape_args((args.fix_sizes or []) + (args.shape or []), "--fix-sizes")
    if not wanted:
        raise BadArgument("fix-sizes needs --fix-sizes NAME=DIMS")
    report = api.fix_sizes(args.input, args.output, wanted, verify=not args.no_verify,
                           verify_options=_verify_options(args), force=args.force, report=_json_file(args))
    _show(report, args)
    return 0


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadArgument(f"{flag} {text}: expected comma-separated integers") from None


def _shapes(args) -> int:
    rows = api.node_shapes(args.input, parse_shape_args(args.shape), report=_json_file(args), force=args.force)
    if args.json == STDOUT:
        _out(json.dumps(api.shapes_listing(rows), indent=1))
        return 0
    for r in rows:
        outs = ", ".join(f"{name}: {'x'.join(map(str, dims)) if dims is not None else '?'}" for name, dims in r.outputs)
        print(f"{r.node} ({r.op}) -> {outs}")
        for note in r.notes:
            print(f"    {note}")
    return 0


def _sizes(args) -> int:
    rows = api.admissible_sizes(args.input, report=_json_file(args), force=args.force, html=args.html,
                                check_up_to=args.check_up_to)
    if args.json == STDOUT:
        _out(json.dumps(api.sizes_listing(rows, args.input), indent=1))
        return 0
    for r in rows:
        print(f"{r.input} axis {r.axis}: {r.text()}")
    return 0


def _report(args) -> int:
    api.render_report(args.input, args.html, force=args.force)
    _out(f"wrote {args.html}")
    return 0


def _passes(args) -> int:
    print("passes:")
    for p in api.list_passes():
        print(f"  {p.name}: {p.summary}")
    print("targets:")
    for name, summary in api.list_targets().items():
        print(f"  {name}: {summary}")
    print("examples (use as example:NAME):")
    for name, summary in api.list_examples().items():
        print(f"  {name}: {summary}")
    return 0


def _version() -> int:
    print(api.versions_text())
    return 0


class OutOfTime(BaseException):
    """--max-seconds ran out: unwinds like an interrupt, removing every temporary on the way."""


def _out_of_time(_signum, _frame):
    raise OutOfTime()


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so every temporary file and folder is removed on the way."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum, _frame):
    raise Interrupted(signum)


def _unwind_on_stop_signals() -> None:
    """Once the library is loaded, a stop signal unwinds (temporary files go, nothing is published); before
    that, main() has it end the process at once (onnxport/__main__.py says why)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)


@contextlib.contextmanager
def _time_limit(seconds: float):
    """SIGALRM after `seconds` of wall time, unless the caller already set an alarm (it bounds us then)."""
    if not seconds or seconds < 0 or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _out_of_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(argv: list[str] | None = None) -> int:
    previous = {signum: signal.signal(signum, stop_at_once) for signum in STOP_SIGNALS}
    try:
        return _main(argv)
    finally:                # a caller in the same process (a test, a library user) gets its own handlers back
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _main(argv: list[str] | None) -> int:
    args = None
    try:
        args = _parse(argv)
        if isinstance(args, int):
            return args
        for spec in (getattr(args, name, None) for name in ("input", "a", "b")):
            if spec:                    # a mistyped path is answered before the library's second of imports
                model_paths.check_file(spec)
        _load_library()
        _unwind_on_stop_signals()
        with progress.showing(progress.terminal_line()), _time_limit(getattr(args, "max_seconds", 0)):
            return _version() if args.version else args.run(args)
    except OutOfTime:
        progress.clear()
        print(f"onnxport: error: stopped after {args.max_seconds:g} s (--max-seconds); nothing written; "
              f"give it more with --max-seconds S, or 0 for no limit", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as e:
        progress.clear()
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        print(f"onnxport: interrupted ({signal.Signals(signum).name}); nothing written", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:           # `onnxport passes | head`: the reader is gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OnnxportError as e:
        progress.clear()
        print(f"onnxport: error: {e}", file=sys.stderr)
        return e.exit_code
    except ResultError as e:
        progress.clear()
        print(f"onnxport: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        progress.clear()


def _parse(argv: list[str] | None) -> argparse.Namespace | int:
    """The parsed command line, or the exit code of --help (0) or of a usage error printed in one line (2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.version and args.command is None:
            parser.error("a command is required (convert, verify, sizes, ...)")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return args


def entry() -> None:
    """The console script (through onnxport/__main__.py): main(), then a late signal (the work is done, the
    process is ending) must not turn a finished run into a killed one."""
    for signum in (signal.SIGTERM, signal.SIGHUP):   # what main() puts back when it ends: ignored from then on
        signal.signal(signum, signal.SIG_IGN)
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # process-wide (onnxruntime has threads); shutdown keeps it
    sys.exit(code)


if __name__ == "__main__":
    entry()
