"""The gallery examples and the quickstart's code run to completion.

Each ``examples/plot_*.py`` runs in a fresh interpreter (``sys.executable``)
with the non-interactive Agg backend, from an empty temporary directory, and
must exit with status 0. The quickstart test runs the Python code blocks of
``docs/quickstart.rst`` in order, so that the documented API stays correct.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
QUICKSTART = ROOT / "docs" / "quickstart.rst"

# Each example takes a few seconds on a 2-core CPU; this only catches hangs.
TIMEOUT_S = 300


def _env():
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    # The examples are small: one torch thread avoids oversubscribing a
    # shared CPU (idle OpenMP threads spinning against other processes).
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run(args, cwd):
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited with {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    )
    return proc


def test_examples_exist():
    assert EXAMPLES, "no examples/plot_*.py found"


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    _run([str(script)], cwd=tmp_path)
    # Nothing is written to the working directory.
    assert not any(tmp_path.iterdir())


def _python_blocks(rst_text):
    """The bodies of the ``.. code-block:: python`` directives, dedented."""
    pattern = re.compile(r"^\.\. code-block:: python\n\n((?:(?:[ \t]+.*)?\n)+)", re.MULTILINE)
    return [textwrap.dedent(block) for block in pattern.findall(rst_text)]


def test_quickstart_code_runs(tmp_path):
    blocks = _python_blocks(QUICKSTART.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "expected the quickstart's python code blocks"
    script = tmp_path / "quickstart.py"
    script.write_text("\n\n".join(blocks), encoding="utf-8")
    _run([str(script)], cwd=tmp_path)


def test_glossary_metadata_routing_code_runs(tmp_path):
    blocks = _python_blocks((ROOT / "docs" / "glossary.rst").read_text(encoding="utf-8"))
    assert len(blocks) == 1
    script = tmp_path / "glossary.py"
    script.write_text(blocks[0], encoding="utf-8")
    _run([str(script)], cwd=tmp_path)
