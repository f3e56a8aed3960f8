"""Sphinx configuration of the skhash documentation.

Build with ``python -m sphinx -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. The example gallery needs sphinx-gallery; without
it (or with ``SKHASH_DOCS_GALLERY=0`` in the environment, for a quick build)
the rest of the documentation still builds and the gallery is left out.
"""

import os
import sys
from importlib.util import find_spec
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Document the checkout even when skhash is not installed in editable mode.
sys.path.insert(0, str(HERE.parent))

import skhash  # noqa: E402
import skhash.features  # noqa: E402,F401
from skhash.utils import all_estimators  # noqa: E402

# The estimator lists of the API reference come from discovery (in each
# subpackage's ``__all__`` order): a new estimator appears there by itself.
_KIND_PACKAGES = {"hasher": skhash.hashing, "quantizer": skhash.quantization,
                  "retriever": skhash.neighbors, "transformer": skhash.features}


def _write_estimator_lists():
    """Write ``_estimators_<kind>.inc.rst`` (next to api.rst, so that their
    ``:toctree: generated/`` means the same when autosummary reads them alone
    and when api.rst includes them); return their names."""
    out = HERE / "generated"
    out.mkdir(exist_ok=True)
    written = []
    for kind, package in _KIND_PACKAGES.items():
        found = dict(all_estimators(kind))
        names = [name for name in package.__all__ if name in found]
        written.append(f"_estimators_{kind}.inc.rst")
        (HERE / written[-1]).write_text(
            f".. currentmodule:: {package.__name__}\n\n"
            ".. autosummary::\n   :toctree: generated/\n   :template: estimator.rst\n"
            "   :nosignatures:\n\n" + "".join(f"   {name}\n" for name in names))
    return written


# included by api.rst, not pages of their own; autosummary reads them (below)
# so that a clean build writes the estimators' pages
_ESTIMATOR_LISTS = _write_estimator_lists()


def _write_published_results():
    """Render the checked-in results (``benchmarks/published/*.json``) into the
    tables and figures that the benchmarks page includes from ``_generated/``
    (the code of ``skhash report``): the page is regenerated from data, not
    edited by hand."""
    from skhash._report import render_report

    render_report(sorted((HERE.parent / "benchmarks" / "published").glob("*.json")),
                  HERE / "_generated")


_write_published_results()

# -- Project -----------------------------------------------------------------
project = "skhash"
author = "The skhash developers"
copyright = "The skhash developers"
release = skhash.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

USE_GALLERY = find_spec("sphinx_gallery") is not None and os.environ.get(
    "SKHASH_DOCS_GALLERY", "1"
) not in ("0", "false", "no")
if USE_GALLERY:
    extensions.append("sphinx_gallery.gen_gallery")

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "_estimators_*.inc.rst", "_generated"]
if not USE_GALLERY:
    exclude_patterns += ["auto_examples", "sg_execution_times.rst"]
root_doc = "index"
default_role = "obj"

# autodoc / autosummary / numpydoc
autosummary_generate = ["api.rst", *_ESTIMATOR_LISTS]
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Nothing is fetched while building (no intersphinx inventories).

# -- HTML --------------------------------------------------------------------
html_theme = "alabaster"
# alabaster's default 940 px page cut the code blocks and the wide benchmark
# tables short (seen in headless-Chromium screenshots; see docs/README.md)
html_theme_options = {"page_width": "1240px", "sidebar_width": "260px"}
html_title = f"skhash {release}"
html_static_path = ["_static"]
html_css_files = ["skhash.css"]

# -- Example gallery -----------------------------------------------------------
if USE_GALLERY:
    sphinx_gallery_conf = {
        "examples_dirs": str(HERE.parent / "examples"),
        "gallery_dirs": "auto_examples",
        # Run every plot_* script; other scripts are shown without running.
        "filename_pattern": r"/plot_",
        "download_all_examples": False,
        "remove_config_comments": True,
        "matplotlib_animations": False,
        "reference_url": {"skhash": None},
        "doc_module": ("skhash",),
        "backreferences_dir": None,
    }


def _drop_gallery_entry(app, docname, source):
    """Without sphinx-gallery, drop the gallery from the toctree and links."""
    text = source[0]
    if docname == "index":
        text = "\n".join(
            line for line in text.splitlines() if line.strip() != "auto_examples/index"
        )
    source[0] = text.replace(
        ":doc:`auto_examples/index`", "The example scripts in ``examples/``"
    )


def setup(app):
    if not USE_GALLERY:
        app.connect("source-read", _drop_gallery_entry)
