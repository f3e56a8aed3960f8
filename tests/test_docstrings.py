"""Every docstring example in the package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import skhash
from skhash.utils import all_estimators

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(skhash.__path__, prefix="skhash.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0


@pytest.mark.parametrize("name, cls", all_estimators())
def test_estimators_have_examples(name, cls):
    assert ">>>" in cls.__doc__, name


@pytest.mark.parametrize("name, cls", all_estimators())
def test_every_parameter_is_documented_with_its_default(name, cls):
    """Each __init__ parameter has one docstring entry; a stated default is the signature's."""
    import inspect

    from skhash._docstrings import documented_parameters, format_default

    entries = documented_parameters(cls.__doc__)
    names = [n for n, _ in entries]
    signature = {p: v.default for p, v in inspect.signature(cls.__init__).parameters.items()
                 if p != "self"}
    assert [p for p in signature if p not in names] == [], "undocumented parameters"
    assert sorted({n for n in names if names.count(n) > 1}) == [], "documented twice"
    assert [n for n in names if n not in signature] == [], "documented but not a parameter"
    wrong = [(n, d, format_default(signature[n])) for n, d in entries
             if d is not None and d != format_default(signature[n])]
    assert wrong == [], "a stated default differs from the signature's"
    assert "%(shared_parameters)s" not in cls.__doc__


def _public_objects():
    import inspect

    for name in MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if ((inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__doc__
                    and getattr(obj, "__module__", None) == name and name != "skhash._docstrings"):
                yield f"{name}.{attr}", obj


def test_no_docstring_keeps_a_snippet_marker():
    """Every ``%(name)s`` line was filled at import (a missing ``@fill_doc`` shows here)."""
    left = [name for name, obj in _public_objects() if "%(" in obj.__doc__]
    assert left == []


def test_fill_doc_indents_snippets_and_rejects_unknown_names():
    from skhash._docstrings import DOC_SNIPPETS, fill_doc

    def f():
        """Doc.

        Parameters
        ----------
        %(labels)s
        """

    fill_doc(f)
    first = DOC_SNIPPETS["labels"].splitlines()
    assert f"\n        {first[0]}\n            {first[1].strip()}\n" in f.__doc__
    assert "%(" not in f.__doc__

    def g():
        """%(no_such_snippet)s"""

    g.__doc__ = "Doc.\n\n    %(no_such_snippet)s\n"
    with pytest.raises(KeyError, match="no_such_snippet"):
        fill_doc(g)
