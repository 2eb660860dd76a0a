"""The layering rules, checked on the source: the CLI stays thin, passes stay pure graph code, and the code
is only ever imported as onnxport.* (one copy of each module, whatever else a project calls `models`)."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OURS = ("converter", "passes", "models", "cli")
HEAVY = {"onnx_graphsurgeon", "onnxruntime", "onnx", "numpy", "ml_dtypes"}


def imports(path: pathlib.Path) -> set[str]:
    """Module names a file imports, with the onnxport. prefix taken off ours."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "onnxport":
                found.update(a.name for a in node.names)
            elif node.module.startswith("onnxport."):         # from onnxport.converter import api
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return {n.removeprefix("onnxport.") for n in found}


def modules(folder: str) -> list[pathlib.Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def code_files() -> list[pathlib.Path]:
    return [ROOT / "cli.py", ROOT / "__init__.py", ROOT / "testing.py"] + modules("converter") + modules("passes") + \
        [p for p in modules("models") if "real_exports" not in p.parts] + modules("tests") + modules("benchmarks")


def test_our_code_is_imported_as_onnxport_only():
    for path in code_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            bare = [n for n in names if n.split(".")[0] in OURS]
            assert not bare, f"{path.relative_to(ROOT)} imports {bare[0]} (import onnxport.{bare[0]})"


def test_cli_imports_nothing_heavy_at_module_level():
    tree = ast.parse((ROOT / "cli.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                assert name.split(".")[0] not in HEAVY and not name.startswith(("onnxport.passes", "passes")), name


def test_the_cli_loads_no_numerical_library_before_a_command_runs():
    """What Polygraphy's no-CLI-deps test checks, on the real import set: `onnxport --help` stays fast."""
    script = "import sys; import onnxport.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", script], cwd=ROOT.parent, capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & HEAVY, sorted(loaded & HEAVY)


def test_passes_never_run_models_parse_arguments_or_reach_up():
    for path in modules("passes"):
        for name in imports(path):
            assert name.split(".")[0] not in {"onnxruntime", "argparse", "cli"}, f"{path.name} imports {name}"
            assert not name.startswith("converter"), f"{path.name} imports {name} (errors live in onnxport.errors)"


def test_nothing_inside_the_converter_imports_its_api():
    """converter.api is the entry point on top: the engine below it never reaches up into it."""
    for path in modules("converter"):
        if path.name != "api.py":
            assert "converter.api" not in imports(path), f"{path.name} imports converter.api"


def test_converter_and_models_never_import_the_cli():
    for path in modules("converter") + modules("models"):
        assert "cli" not in imports(path), f"{path.name} imports cli"


def test_models_do_not_depend_on_the_rewrites():
    for path in modules("models"):
        assert not any(n.split(".")[0] in {"passes", "converter"} for n in imports(path)), path.name


def _import_graph(collapse_subpackages: bool) -> dict[str, set[str]]:
    """Every import (in functions too) between onnxport's modules. Packages' __init__ files only hand names on
    (passes/__init__ registers every pass) and are left out. Collapsed, a subpackage (converter/runtimes) is one
    node, as a plan of the house draws it: a folder that both imports and is imported by its parent is a circle."""
    def node(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:3]) if collapse_subpackages and len(parts) > 3 else name
    files = {p: "onnxport." + ".".join(p.relative_to(ROOT).with_suffix("").parts)
             for p in [ROOT / "cli.py", ROOT / "errors.py"] + modules("converter") + modules("passes")
             if p.name != "__init__.py"}
    names = set(files.values())
    edges: dict[str, set[str]] = {}
    for path, name in files.items():
        found = {f"onnxport.{n}" for n in imports(path)}
        edges.setdefault(node(name), set()).update(node(n) for n in found if n in names and node(n) != node(name))
    return edges


def _assert_acyclic(edges: dict[str, set[str]]) -> None:
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            n = todo.pop()
            assert n != start, f"{start} imports itself through {sorted(seen)}"
            if n not in seen:
                seen.add(n)
                todo += edges.get(n, ())


def test_no_import_circle():
    _assert_acyclic(_import_graph(collapse_subpackages=False))


def test_no_import_circle_between_a_subpackage_and_its_parent():
    """converter.runtimes (the adapters) sits below verification; what composes them with conversion and
    verification (the runtime matrix) lives in converter, not inside the adapters' package."""
    edges = _import_graph(collapse_subpackages=True)
    assert "onnxport.converter.runtimes" in edges
    _assert_acyclic(edges)


# converter/'s wings (each a package whose __init__ says what it owns and may import), and what each may
# import of the others; none imports the engine or a command module (no arrow back up).
WINGS = {"files": set(), "sizes": {"files"}, "verification": {"files", "sizes"},
         "reports": {"files", "verification"}}
ABOVE_THE_WINGS = {"api", "conversion", "pipeline", "auto_strategy", "inspection", "size_edits", "size_probe",
                   "runtime_matrix"}


def test_each_wing_imports_only_the_ground_floor_and_the_wings_below_it():
    for wing, allowed in WINGS.items():
        init = (ROOT / "converter" / wing / "__init__.py").read_text()
        assert init.startswith('"""') and "May import" in init, f"converter/{wing}/__init__.py says what it may import"
        for path in modules(f"converter/{wing}"):
            for name in imports(path):
                parts = name.split(".")
                if parts[0] != "converter" or len(parts) < 2:
                    continue
                assert parts[1] not in ABOVE_THE_WINGS, f"{wing}/{path.name} imports {name}: an arrow back up"
                if parts[1] in WINGS and parts[1] != wing:
                    assert parts[1] in allowed, f"{wing}/{path.name} imports the {parts[1]} wing"


def test_converter_uses_only_the_public_face_of_passes():
    """passes/__init__ names what converter/ may use; the underscored modules stay private to passes/."""
    for path in [ROOT / "cli.py", ROOT / "__init__.py", ROOT / "testing.py"] + modules("converter"):
        private = [n for n in imports(path) if n.startswith("passes._")]
        assert not private, f"{path.relative_to(ROOT)} imports {private[0]} (use onnxport.passes' public names)"
