"""Find every public estimator of skhash (as :func:`sklearn.utils.discovery.all_estimators`).

The conformance tests, the docstring tests and the API reference iterate over
this list, so a new estimator is covered by them once its class is public in
one of the subpackages below.
"""

import importlib
import inspect

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]

# kind of estimator -> the subpackage that defines it
_KINDS = {
    "hasher": "skhash.hashing",
    "quantizer": "skhash.quantization",
    "retriever": "skhash.neighbors",
    "transformer": "skhash.features",
}


def all_estimators(type_filter=None):
    """The public estimator classes of skhash.

    A class counts when a public subpackage exports it (its ``__all__``) and
    it is a scikit-learn ``BaseEstimator`` defined in skhash, not abstract,
    whose name starts neither with ``_`` nor with ``Base``. (The classes live
    in private modules such as ``skhash.hashing._cnnbh`` and are public as
    ``skhash.hashing.CNNBHHasher``.)

    Parameters
    ----------
    type_filter : {"hasher", "quantizer", "retriever", "transformer"}, list of them or None
        Only the estimators of these kinds (by the subpackage that exports
        them: ``skhash.hashing``, ``skhash.quantization``,
        ``skhash.neighbors``, ``skhash.features``); None returns all.

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name.

    Examples
    --------
    >>> from skhash.utils import all_estimators
    >>> [name for name, _ in all_estimators("retriever")]
    ['KNeighborsRetriever']
    """
    if type_filter is None:
        kinds = list(_KINDS)
    else:
        kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
        unknown = sorted(set(kinds) - set(_KINDS))
        if unknown:
            raise ValueError(
                f"type_filter must be one of {sorted(_KINDS)} (or a list of them), "
                f"got {unknown}."
            )
    found = {}
    for kind in kinds:
        package = importlib.import_module(_KINDS[kind])
        for name in getattr(package, "__all__", dir(package)):
            obj = getattr(package, name, None)
            if (inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                    and obj.__module__.startswith("skhash.")
                    and not name.startswith(("_", "Base")) and not inspect.isabstract(obj)):
                found[name] = obj
    return sorted(found.items())
