"""Shared pytest setup: onnxruntime quiet, a fixed hypothesis profile for CI (the root is on the path
through pytest's `pythonpath`, for `tests.*`; the code itself is imported as onnxport.*)."""
import os
import random
import warnings

warnings.filterwarnings("ignore", category=RuntimeWarning, module="onnx.backend.test.case")

try:
    from hypothesis import HealthCheck, settings
    settings.register_profile("onnxport", deadline=None, derandomize=True, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("onnxport")
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass


import pytest  # noqa: E402
from pathlib import Path  # noqa: E402


def pytest_configure(config):
    """A test session judges the checkout it runs in: with another checkout installed in the venv
    (pip install -e elsewhere), `import onnxport` would test that one instead; stop and say so."""
    import onnxport
    here, imported = Path(__file__).resolve().parents[1], Path(onnxport.__file__).resolve().parent
    if imported != here:
        raise pytest.UsageError(f"onnxport is imported from {imported}, not this checkout {here}: "
                                f"pip install -e {here} (or run the tests from {imported})")


def pytest_collection_modifyitems(config, items):
    """ONNXPORT_TEST_ORDER=SEED runs the modules in an order shuffled by SEED and the tests of each in a
    shuffled order too, so tests that lean on what an earlier one left behind show up (a module's tests
    stay together: its module-scoped fixtures are built once). The same seed gives the same order."""
    seed = os.environ.get("ONNXPORT_TEST_ORDER")
    if not seed:
        return
    rng, modules = random.Random(seed), {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups = list(modules.values())
    rng.shuffle(groups)
    for group in groups:
        rng.shuffle(group)
    items[:] = [item for group in groups for item in group]
    print(f"tests shuffled with ONNXPORT_TEST_ORDER={seed}")


@pytest.fixture(autouse=True)
def _no_choice_cache(monkeypatch):
    """--strategy auto keeps its timings only where ONNXPORT_CACHE_DIR names a folder
    (converter.choice_cache): no test inherits one; those about the cache set their own."""
    monkeypatch.delenv("ONNXPORT_CACHE_DIR", raising=False)
