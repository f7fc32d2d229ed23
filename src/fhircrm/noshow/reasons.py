"""The factors that raise a patient's no-show risk most: how both kinds of model (logistic, additive) name the
reasons behind a prediction, from each factor's contribution to the log-odds."""

from __future__ import annotations


def top_of(contributions: dict[str, float], limit: int) -> list[tuple[str, float]]:
    raising = sorted((pair for pair in contributions.items() if pair[1] > 0.01), key=lambda p: -p[1])
    return raising[:limit]
