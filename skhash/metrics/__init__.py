"""Retrieval metrics (exact, documented normalisations) and scorers."""

from ._ranking import (
    mean_average_precision,
    precision_at_k,
    precision_recall_by_radius,
    precision_recall_curve_at_k,
    precision_within_radius,
    rank_by_distance,
    recall_at_k,
    relevance,
)
from ._scorer import RetrievalScorer, leave_one_out_map, make_retrieval_scorer, map_scorer

__all__ = [
    "mean_average_precision",
    "precision_at_k",
    "recall_at_k",
    "precision_within_radius",
    "precision_recall_curve_at_k",
    "precision_recall_by_radius",
    "rank_by_distance",
    "relevance",
    "RetrievalScorer",
    "make_retrieval_scorer",
    "map_scorer",
    "leave_one_out_map",
]
