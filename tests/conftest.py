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
def _fresh_choice_cache(tmp_path_factory, monkeypatch):
    """--strategy auto caches its timings per user (converter.choice_cache): each test starts with none,
    and nothing is written to the home folder."""
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
