"""The layering rules, checked on the source: the CLI stays thin, passes stay pure graph code."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(folder: str) -> list[pathlib.Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_cli_imports_only_the_converter():
    heavy = {"onnx_graphsurgeon", "onnxruntime", "onnx", "numpy"}
    for name in imports(ROOT / "cli.py"):
        top = name.split(".")[0]
        assert top not in heavy and not name.startswith("passes"), f"cli.py imports {name}"


def test_passes_never_run_models_parse_arguments_or_reach_up():
    for path in modules("passes"):
        for name in imports(path):
            assert name.split(".")[0] not in {"onnxruntime", "argparse", "cli"}, f"{path.name} imports {name}"
            assert not name.startswith("converter") or name == "converter.errors", f"{path.name} imports {name}"


def test_converter_and_models_never_import_the_cli():
    for path in modules("converter") + modules("models"):
        assert "cli" not in imports(path), f"{path.name} imports cli"


def test_models_do_not_depend_on_the_rewrites():
    for path in modules("models"):
        assert not any(n.split(".")[0] in {"passes", "converter"} for n in imports(path)), path.name
