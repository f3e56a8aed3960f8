"""Test-suite settings.

``SCIPY_ARRAY_API=1`` must be set before scipy is imported so that
scikit-learn's ``check_array_api_input`` (numpy namespace) runs instead of
skipping itself. ``benchmark_script`` loads a benchmark script for its tests.
"""

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("SCIPY_ARRAY_API", "1")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benchmark_script():
    """Load a script of ``benchmarks/`` (not a package) as a module: ``load("bench_search")``."""
    def load(name):
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
