"""The documentation builds with warnings as errors (the CI's docs check).

The gallery pages are generated without running the examples again
(``plot_gallery=0``): ``tests/test_examples.py`` runs them. Nothing is
fetched (no intersphinx inventories).
"""

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("sphinx_gallery")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E",
         "-D", "plot_gallery=0", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    html = tmp_path / "html"
    for page in ("index.html", "benchmarks.html", "glossary.html", "api.html"):
        assert (html / page).is_file(), page
    # the benchmarks page carries the table rendered from the checked-in results
    assert "faiss peak RSS MiB" in (html / "benchmarks.html").read_text(encoding="utf-8")
    assert (html / "_images" / "scale.png").is_file()
