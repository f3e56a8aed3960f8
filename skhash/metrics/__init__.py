"""Retrieval metrics (exact, documented normalisations) and scorers."""

from . import _plot, _ranking, _scorer
from ._plot import *  # noqa: F403
from ._ranking import *  # noqa: F403  (each module's public names, re-exported)
from ._scorer import *  # noqa: F403

__all__ = [*_ranking.__all__, *_scorer.__all__, *_plot.__all__]
