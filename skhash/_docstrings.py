"""Documentation written once: the shared parameters of the deep estimators,
and docstring snippets that several public functions share.

``@fill_doc`` replaces each line ``%(name)s`` of a docstring with the
snippet ``DOC_SNIPPETS[name]``, indented as the marker (numpydoc reads the
result, as it does imbalanced-learn's and MNE's substituted docstrings).

``@fill_shared_parameters`` replaces the line ``%(shared_parameters)s`` of an
estimator's docstring with a numpydoc entry for each parameter of
``SHARED_PARAMETERS`` that its ``__init__`` takes and its docstring does not
document itself, with the default read from the signature, so the rendered
pages show every parameter with its default (``tests/test_docstrings.py``
checks that every parameter is documented, with the right default).
"""

import inspect
import re
import textwrap

__all__ = ["DOC_SNIPPETS", "SHARED_PARAMETERS", "fill_doc", "fill_shared_parameters",
           "format_default"]

MARKER = "    %(shared_parameters)s\n"
ATTRIBUTES_MARKER = "    %(shared_attributes)s\n"

# the fitted attributes every deep estimator has (after its own)
SHARED_ATTRIBUTES = """\
    n_features_in_ : int
        Number of features seen during fit.
    interrupted_ : bool
        Whether Ctrl-C ended the training early (the model is still
        complete; see :class:`skhash.base.BaseDeepEncoder`).
    n_iter_ : int
        Epochs trained, every phase of the schedule counted (the rows of
        ``history_``).
    max_epochs_ : int
        The epochs ``max_epochs`` resolved to (see ``max_epochs``).
"""

# name -> (type, description); the order of the rendered entries
SHARED_PARAMETERS = {
    "input_shape": (
        "tuple (C, H, W) or (H, W) or None",
        "View each row of ``X`` as an image of this shape (``C * H * W`` must equal the "
        "number of features; 4-D arrays ``(n, C, H, W)`` are accepted too). None treats "
        "rows as plain vectors.",
    ),
    "backbone": (
        "str or nn.Module class",
        'Feature extractor, one of ``skhash.nn.BACKBONES`` or a module class; "auto" '
        "picks one by input: an MLP for vectors, the estimator's colour default for "
        "colour photos of side >= 32 and a small CNN for other images (see "
        ":func:`skhash.nn.make_backbone`).",
    ),
    "hidden_units": ("tuple of int", "Hidden layer widths of the MLP backbone (vectors)."),
    "max_epochs": (
        'int or "auto"',
        'Training epochs; "auto": the estimator\'s default length, and for colour photos '
        "of side >= 32 at least 4,000 optimizer steps, at most 100 epochs (see "
        ":class:`skhash.base.BaseDeepEncoder`). ``max_epochs_`` holds the number used.",
    ),
    "batch_size": ("int", "Mini-batch size."),
    "lr": (
        'float or "auto"',
        'Learning rate (the peak of the one-cycle schedule); "auto": 2e-3 for colour '
        "photos of side >= 32, 1e-3 otherwise.",
    ),
    "optimizer": ('{"adam", "adamw", "sgd"} or torch optimizer class',
                  '"sgd" uses momentum 0.9.'),
    "weight_decay": (
        'float or "auto"',
        'L2 penalty passed to the optimizer; "auto": 5e-4 for colour photos of side >= 32, '
        "0 otherwise.",
    ),
    "validation_fraction": (
        "float in [0, 1) or None",
        "Fraction of the training data held out (stratified when possible) to monitor "
        "``valid_loss``. Never the query/test set.",
    ),
    "early_stopping": (
        "bool",
        "Stop when ``valid_loss`` has not improved for ``n_iter_no_change`` epochs and "
        "restore the best epoch's weights. Requires ``validation_fraction > 0``.",
    ),
    "n_iter_no_change": ("int", "Patience of early stopping, in epochs."),
    "callbacks": (
        "list of skorch callbacks or None",
        "Extra callbacks; deep-copied at every fit, so the originals are never mutated.",
    ),
    "verbose": ("int", "0 silent; >= 1 prints skorch's epoch table and a progress bar."),
    "device": ("str", '"cpu", "cuda" or "cuda:N" (a clear error when CUDA is absent).'),
    "random_state": (
        "int, RandomState instance or None",
        "Seeds the weights, the batches and every random step of the schedule; the "
        "caller's global torch RNG is left untouched.",
    ),
}


def format_default(value):
    """A default as numpydoc writes it: strings in double quotes, others by ``repr``."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def documented_parameters(doc):
    """Names of the entries of a numpydoc ``Parameters`` section, with their defaults.

    Returns a list of ``(name, default text or None)``; an entry naming
    several parameters (``lr, weight_decay : ...``) gives one item each.
    """
    section = doc.split("Parameters\n    ----------\n", 1)
    if len(section) < 2:
        return []
    body = re.split(r"\n    [A-Z][A-Za-z ]+\n    -{3,}\n", section[1])[0]
    found = []
    for line in body.splitlines():
        match = re.match(r"^    ([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*)(?: :(.*))?$", line)
        if not match:
            continue
        default = re.search(r"default=(.+)$", match.group(2) or "")
        for name in match.group(1).split(", "):
            found.append((name, default.group(1).strip() if default else None))
    return found


def fill_shared_parameters(cls):
    """Class decorator: write the shared parameter and attribute entries into ``cls.__doc__``.

    The ``%(shared_attributes)s`` line becomes ``SHARED_ATTRIBUTES``; the
    ``%(shared_parameters)s`` line, when there is one, the entries of the
    shared parameters the docstring does not document itself.
    """
    doc = cls.__doc__
    if ATTRIBUTES_MARKER not in doc:
        raise ValueError(
            f"{cls.__name__}'s docstring has no {ATTRIBUTES_MARKER.strip()!r} line.")
    doc = doc.replace(ATTRIBUTES_MARKER, SHARED_ATTRIBUTES)
    if MARKER not in doc:
        cls.__doc__ = doc
        return cls
    own = {name for name, _ in documented_parameters(doc.replace(MARKER, ""))}
    signature = inspect.signature(cls.__init__).parameters
    entries = []
    for name, (type_, text) in SHARED_PARAMETERS.items():
        if name not in signature or name in own:
            continue
        entries.append(f"    {name} : {type_}, default={format_default(signature[name].default)}\n")
        entries.append(textwrap.fill(text, 76, initial_indent=" " * 8,
                                     subsequent_indent=" " * 8) + "\n")
    cls.__doc__ = doc.replace(MARKER, "".join(entries))
    return cls


# name -> text, indented relative to the marker's line
DOC_SNIPPETS = {
    # metrics: the labels and the ranking of a ranked metric
    "labels": """\
query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
    1-D class labels or 2-D 0/1 indicator matrix; see :func:`relevance`.
database_labels : array-like of shape (n_database,) or (n_database, n_labels)
    Labels of the database items, of the same kind as `query_labels`.""",
    "ranking": """\
ranking : array-like of int, shape (n_queries, n_ranked)
    Database indices in ranked order per query, nearest first, without
    duplicates.""",
    "ranked_k_parameters": """\
Parameters
----------
query_labels : array-like of shape (n_queries,) or (n_queries, n_labels)
    1-D class labels or 2-D 0/1 indicator matrix; see :func:`relevance`.
database_labels : array-like of shape (n_database,) or (n_database, n_labels)
    Labels of the database items, of the same kind as `query_labels`.
ranking : array-like of int, shape (n_queries, n_ranked)
    Database indices in ranked order per query, nearest first, without
    duplicates.
k : int
    Cut-off, ``1 <= k <= n_ranked``.

Returns
-------""",
    "k_raises": """\
Raises
------
ValueError
    On invalid labels or `ranking` (see :func:`mean_average_precision`)
    or if `k` is out of range.""",
    # datasets: the Bunch a loader returns
    "bunch_returns": """\
return_X_y : bool, default=False
    If True, return ``(data, target)`` instead of a Bunch.

Returns
-------
data : :class:`~sklearn.utils.Bunch`
    Dictionary-like object with the attributes
""",
    "bunch_tail": """\
    DESCR : str
        Short description of the dataset.

(data, target) : tuple of ndarray
    Returned instead when ``return_X_y`` is True.""",
    # protocols: the seed and the split they return
    "split_returns": """\
random_state : int, RandomState instance or None, default=None
    Controls all the sampling; pass an int for reproducible splits.

Returns
-------
split : RetrievalSplit""",
    # the display objects (skhash.metrics): name and what plot() keeps
    "display_name_attributes": """\
name : str, default=None
    Legend label.

Attributes
----------
line_ : matplotlib Line2D
    The drawn line (after :meth:`plot`).
ax_ : matplotlib Axes
    The axes drawn on.
figure_ : matplotlib Figure
    The figure of ``ax_``.""",
    # the linear baselines' last attributes
    "hamming_attributes": """\
code_space_ : skhash.codes.HammingSpace
    How codes compare (Hamming distance over ``n_bits``).
n_features_in_ : int
    Number of features seen during fit.""",
}

_SNIPPET_LINE = re.compile(r"^( *)%\((\w+)\)s$", re.MULTILINE)


def fill_doc(obj):
    """Decorator: replace each line ``%(name)s`` of ``obj.__doc__`` with
    ``DOC_SNIPPETS[name]``, indented as the marker.

    An unknown name is an error at import, not a page with a hole.
    """
    def snippet(match):
        indent, name = match.groups()
        if name not in DOC_SNIPPETS:
            raise KeyError(f"{obj.__qualname__}'s docstring asks for an unknown snippet "
                           f"{name!r}; known: {sorted(DOC_SNIPPETS)}.")
        return "\n".join(indent + line if line else ""
                         for line in DOC_SNIPPETS[name].split("\n"))

    obj.__doc__ = _SNIPPET_LINE.sub(snippet, obj.__doc__)
    return obj
