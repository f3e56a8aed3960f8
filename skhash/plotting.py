"""Figures of fitted self-organizing maps (matplotlib, an optional dependency).

Each function takes a fitted :class:`~skhash.quantization.DeepSOMQuantizer`
or :class:`~skhash.quantization.SelfOrganizingMap`, draws on ``ax`` (a new
figure when None) and returns the Axes.

* :func:`plot_response_map` -- the map's responses to one sample (the
  DeepSOM paper's Fig. 2);
* :func:`plot_som` -- the codewords in feature space, linked along the
  grid, over the samples' features (the paper's Figs. 5 and 6, drawn with a
  20 x 20 map and a 2-unit fc8);
* :func:`plot_node_labels` -- the grid, each node coloured by the majority
  label of the samples it wins.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["plot_response_map", "plot_som", "plot_node_labels"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "skhash.plotting needs matplotlib, an optional dependency of skhash: "
            "pip install matplotlib (or pip install 'skhash[plot]')."
        ) from None
    return plt


def _axes(ax, figsize=(5, 4.5)):
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def _map_of(estimator):
    """``(codebook (m, d), grid (m, 2), map_shape)`` of a fitted SOM or DeepSOM."""
    if not hasattr(estimator, "response_map"):
        raise TypeError(
            "expected a fitted DeepSOMQuantizer or SelfOrganizingMap, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator, "grid_")
    codebook = np.asarray(estimator.codebooks_[0], dtype=np.float64)
    return codebook, estimator.grid_, estimator.map_shape_


def plot_response_map(estimator, x, *, ax=None, cmap="viridis", colorbar=True,
                      mark_winner=True):
    """Draw the responses of every node of the map to one sample.

    For DeepSOM (and a SOM with ``metric="cosine"``) the response of a node
    is the inner product of the normalised feature with its codeword (the
    map ``U``); the code of the sample is the node with the largest
    response, marked with a star.

    Parameters
    ----------
    estimator : fitted DeepSOMQuantizer or SelfOrganizingMap
    x : array-like of shape (n_features,) or (1, n_features)
        One input row (an image flattened, as the estimator takes it).
    ax : matplotlib Axes or None
    cmap : str
    colorbar : bool
    mark_winner : bool

    Returns
    -------
    ax : matplotlib Axes
    """
    _map_of(estimator)
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[0] != 1:
        raise ValueError(f"x must be one sample, got {x.shape[0]} rows.")
    U = estimator.response_map(x)[0]
    ax = _axes(ax)
    image = ax.imshow(U, cmap=cmap, origin="upper", interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if mark_winner:
        r, c = np.unravel_index(np.argmax(U), U.shape)
        ax.plot([c], [r], marker="*", color="red", markersize=12, markeredgecolor="white")
    ax.set_xlabel("map column")
    ax.set_ylabel("map row")
    ax.set_title("response map")
    return ax


def _project(codebook, *arrays):
    """2-D coordinates: the features themselves when d <= 2, else the two
    leading principal components of the codebook."""
    d = codebook.shape[1]
    if d <= 2:
        pad = lambda A: np.pad(A, ((0, 0), (0, 2 - d)))  # noqa: E731
        return [pad(codebook)] + [pad(A) for A in arrays]
    mean = codebook.mean(0)
    _, _, vt = np.linalg.svd(codebook - mean, full_matrices=False)
    basis = vt[:2].T
    return [(codebook - mean) @ basis] + [(A - mean) @ basis for A in arrays]


def plot_som(estimator, X=None, y=None, *, ax=None, links=True, cmap="tab10", s=10, alpha=0.6):
    """Draw the map in feature space: codewords as nodes, grid neighbours linked.

    With ``X``, the samples' features (``estimator.embed(X)``: DeepSOM's
    normalised fc8) are drawn too, coloured by ``y`` when given. Features
    of two dimensions are drawn as they are (DeepSOM with
    ``embedding_dim=2``: on the unit circle); higher dimensions are
    projected on the two leading principal components of the codewords.

    Parameters
    ----------
    estimator : fitted DeepSOMQuantizer or SelfOrganizingMap
    X : array-like of shape (n_samples, n_features) or None
    y : array-like of shape (n_samples,) or None
        Labels colouring the samples.
    ax : matplotlib Axes or None
    links : bool
        Draw a segment between horizontally and vertically adjacent nodes.
    cmap : str
        Colormap of the labels.
    s, alpha : float
        Marker size and opacity of the samples.

    Returns
    -------
    ax : matplotlib Axes
    """
    codebook, _, (rows, cols) = _map_of(estimator)
    ax = _axes(ax)
    Z = None if X is None else estimator.embed(X).astype(np.float64)
    P, *rest = _project(codebook, *([] if Z is None else [Z]))
    if Z is not None:
        Zp = rest[0]
        if y is None:
            ax.scatter(Zp[:, 0], Zp[:, 1], s=s, alpha=alpha, color="tab:blue", linewidths=0,
                       zorder=4)
        else:
            y = np.asarray(y)
            if y.shape[0] != Zp.shape[0]:
                raise ValueError(f"X has {Zp.shape[0]} rows but y has {y.shape[0]} labels.")
            labels, inverse = np.unique(y, return_inverse=True)
            colors = _pyplot().get_cmap(cmap)
            for i, label in enumerate(labels):
                sel = inverse == i
                ax.scatter(Zp[sel, 0], Zp[sel, 1], s=s, alpha=alpha, linewidths=0, zorder=4,
                           color=colors(i % colors.N), label=str(label))
            ax.legend(markerscale=2, fontsize="small", loc="best", frameon=False)
    if links:
        from matplotlib.collections import LineCollection

        nodes = P.reshape(rows, cols, 2)
        segments = [np.stack([nodes[r, c], nodes[r, c + 1]])
                    for r in range(rows) for c in range(cols - 1)]
        segments += [np.stack([nodes[r, c], nodes[r + 1, c]])
                     for r in range(rows - 1) for c in range(cols)]
        if segments:
            ax.add_collection(LineCollection(segments, colors="0.5", linewidths=0.5,
                                             zorder=2))
    ax.scatter(P[:, 0], P[:, 1], s=4, color="black", zorder=3)
    if codebook.shape[1] <= 2:
        ax.set_aspect("equal")
        ax.set_xlabel("feature 1")
        ax.set_ylabel("feature 2")
    else:
        ax.set_xlabel("codebook PC 1")
        ax.set_ylabel("codebook PC 2")
    ax.set_title(f"{rows} x {cols} map in feature space")
    ax.autoscale_view()
    return ax


def plot_node_labels(estimator, X, y, *, ax=None, cmap="tab10", annotate=True):
    """Draw the grid with each node coloured by the majority label it wins.

    Nodes that win none of ``X`` are left white. Classes in separate,
    contiguous regions of the map are what DeepSOM's retrieval needs.

    Parameters
    ----------
    estimator : fitted DeepSOMQuantizer or SelfOrganizingMap
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    ax : matplotlib Axes or None
    cmap : str
    annotate : bool
        Write the majority label in each node.

    Returns
    -------
    ax : matplotlib Axes
    """
    _, _, (rows, cols) = _map_of(estimator)
    codes = estimator.transform(X)[:, 0].astype(np.intp)
    y = np.asarray(y)
    if y.shape[0] != codes.shape[0]:
        raise ValueError(f"X has {codes.shape[0]} rows but y has {y.shape[0]} labels.")
    labels, inverse = np.unique(y, return_inverse=True)
    counts = np.zeros((rows * cols, len(labels)), dtype=np.int64)
    np.add.at(counts, (codes, inverse), 1)
    majority = np.where(counts.sum(1) > 0, counts.argmax(1), -1).reshape(rows, cols)
    plt = _pyplot()
    colors = plt.get_cmap(cmap)
    image = np.ones((rows, cols, 4))
    for i in range(len(labels)):
        image[majority == i] = colors(i % colors.N)
    ax = _axes(ax)
    ax.imshow(image, origin="upper", interpolation="nearest")
    if annotate:
        size = max(4, min(10, 160 / max(rows, cols)))
        for r, c in zip(*np.nonzero(majority >= 0)):
            ax.text(c, r, str(labels[majority[r, c]]), ha="center", va="center",
                    fontsize=size, color="black")
    ax.set_xlabel("map column")
    ax.set_ylabel("map row")
    ax.set_title("majority label per node")
    return ax
