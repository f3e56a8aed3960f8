"""scikit-learn's ``__init__`` contract, written once."""

import inspect

__all__ = ["store_init_params"]


def store_init_params(estimator, arguments):
    """Store every argument of ``type(estimator).__init__`` under its own name.

    scikit-learn's contract for ``__init__``: each parameter is kept
    unchanged as an attribute of the same name (no validation, no copy, no
    derived value), so that ``get_params``, ``set_params`` and ``clone``
    work. ``arguments`` is the ``locals()`` of the ``__init__`` call::

        def __init__(self, n_bits=48, *, random_state=None):
            store_init_params(self, locals())

    The signature stays written out in each estimator (``get_params`` reads
    it, and so do ``help``, IDEs and the API reference).
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, arguments[name])
