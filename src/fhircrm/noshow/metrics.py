"""How good the risk is: AUC (rank-based, ties averaged), calibration by decile, no-show rate per band."""

from __future__ import annotations

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration(labels: np.ndarray, scores: np.ndarray, *, bins: int = 10) -> list[tuple[int, int, float, float]]:
    """Per decile of predicted risk: (decile, count, mean predicted, observed rate)."""
    order = np.argsort(scores, kind="mergesort")
    rows = []
    for decile, chunk in enumerate(np.array_split(order, bins), start=1):
        if len(chunk):
            rows.append((decile, len(chunk), float(scores[chunk].mean()), float(labels[chunk].mean())))
    return rows


def band_rates(labels: np.ndarray, bands: list[str]) -> list[tuple[str, int, float]]:
    """Per risk band: (band, count, observed no-show rate)."""
    names = np.array(bands)
    rows = []
    for band in ("low", "medium", "high"):
        mask = names == band
        if mask.any():
            rows.append((band, int(mask.sum()), float(labels[mask].mean())))
    return rows


def report(labels: np.ndarray, scores: np.ndarray, bands: list[str]) -> str:
    lines = [f"appointments: {len(labels)}  no-show rate: {labels.mean():.3f}  AUC: {auc(labels, scores):.3f}"]
    lines.append("calibration by decile (decile, n, mean predicted, observed):")
    lines += [f"  {d:>2} {n:>7} {p:.3f} {o:.3f}" for d, n, p, o in calibration(labels, scores)]
    lines.append("no-show rate by risk band (band, n, observed):")
    lines += [f"  {b:<6} {n:>7} {o:.3f}" for b, n, o in band_rates(labels, bands)]
    return "\n".join(lines)
