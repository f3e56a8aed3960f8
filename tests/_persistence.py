"""Test helper: a fitted estimator persisted with joblib answers the same in a
fresh interpreter."""

import subprocess
import sys

import joblib
import numpy as np


def assert_same_in_fresh_process(estimator, X, tmp_path, methods=("transform", "predict")):
    """Dump ``estimator``, load it in a new Python process and check that each of
    ``methods`` gives there exactly what it gives here on ``X``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, tmp_path / "estimator.joblib")
    np.save(tmp_path / "X.npy", X)
    lines = [
        "import joblib, numpy as np",
        f"est = joblib.load(r'{tmp_path / 'estimator.joblib'}')",
        f"X = np.load(r'{tmp_path / 'X.npy'}')",
    ]
    lines += [f"np.save(r'{tmp_path / (name + '.npy')}', est.{name}(X))" for name in methods]
    subprocess.run([sys.executable, "-c", "\n".join(lines)], check=True)
    for name in methods:
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"),
                                      getattr(estimator, name)(X))
