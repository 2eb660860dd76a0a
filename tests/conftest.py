"""Shared pytest setup: onnxruntime quiet, a fixed hypothesis profile for CI (the root is on the path
through pytest's `pythonpath`, for `tests.*`; the code itself is imported as onnxport.*)."""
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


@pytest.fixture(autouse=True)
def _no_choice_cache(monkeypatch):
    """--strategy auto keeps its timings only where ONNXPORT_CACHE_DIR names a folder
    (converter.choice_cache): no test inherits one; those about the cache set their own."""
    monkeypatch.delenv("ONNXPORT_CACHE_DIR", raising=False)
