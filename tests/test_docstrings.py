"""Every docstring example in the package runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import skhash

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


def test_estimators_have_examples():
    from skhash.hashing import ITQHasher, LSHHasher
    from skhash.quantization import (
        DeepQuanHasher,
        DeepSOMQuantizer,
        DPQQuantizer,
        ProductQuantizer,
        SelfOrganizingMap,
    )

    for cls in (DeepQuanHasher, DeepSOMQuantizer, DPQQuantizer, ProductQuantizer,
                SelfOrganizingMap, ITQHasher, LSHHasher):
        assert ">>>" in cls.__doc__, cls.__name__
