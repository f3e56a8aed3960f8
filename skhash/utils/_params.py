"""scikit-learn's ``__init__`` contract, written once."""

__all__ = ["store_init_params"]


def store_init_params(estimator, arguments):
    """Store every argument of the calling ``__init__`` under its own name.

    scikit-learn's contract for ``__init__``: each parameter is kept
    unchanged as an attribute of the same name (no validation, no copy, no
    derived value), so that ``get_params``, ``set_params`` and ``clone``
    work. ``arguments`` is the ``locals()`` of the ``__init__`` call, taken
    first thing (so it holds the parameters only); a subclass that extends
    the signature and calls ``super().__init__(...)`` stores its own extra
    parameters itself::

        def __init__(self, n_bits=48, *, random_state=None):
            store_init_params(self, locals())

    The signature stays written out in each estimator (``get_params`` reads
    it, and so do ``help``, IDEs and the API reference).
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
