"""Shared pytest setup: project root importable, onnxruntime quiet, a fixed hypothesis profile for CI."""
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

warnings.filterwarnings("ignore", category=RuntimeWarning, module="onnx.backend.test.case")

try:
    from hypothesis import HealthCheck, settings
    settings.register_profile("onnxport", deadline=None, derandomize=True, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("onnxport")
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    pass
