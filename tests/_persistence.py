"""Test helper: a fitted estimator persisted with joblib answers the same in a
fresh interpreter."""

import subprocess
import sys

import joblib
import numpy as np


def _as_arrays(result):
    return list(result) if isinstance(result, tuple) else [result]


def assert_same_in_fresh_process(estimator, X, tmp_path, methods=("transform", "predict")):
    """Dump ``estimator``, load it in a new Python process and check that each of
    ``methods`` gives there exactly what it gives here on ``X`` (each array of
    a method that returns a tuple, such as ``kneighbors``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, tmp_path / "estimator.joblib")
    np.save(tmp_path / "X.npy", X)
    lines = [
        "import joblib, numpy as np",
        f"est = joblib.load(r'{tmp_path / 'estimator.joblib'}')",
        f"X = np.load(r'{tmp_path / 'X.npy'}')",
        "def save(name, result):",
        "    for i, a in enumerate(result if isinstance(result, tuple) else (result,)):",
        f"        np.save(r'{tmp_path}' + f'/{{name}}-{{i}}.npy', a)",
    ]
    lines += [f"save({name!r}, est.{name}(X))" for name in methods]
    subprocess.run([sys.executable, "-c", "\n".join(lines)], check=True)
    for name in methods:
        for i, expected in enumerate(_as_arrays(getattr(estimator, name)(X))):
            got = np.load(tmp_path / f"{name}-{i}.npy")
            np.testing.assert_array_equal(got, expected, err_msg=name)
            assert got.dtype == expected.dtype, name
