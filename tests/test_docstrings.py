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
