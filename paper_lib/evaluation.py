"""Evaluation of predictions: accuracy, per-class recall and confusion matrices (percent)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: columns of ``accuracy.csv`` (DESIGN.md); accuracy in %
ACCURACY_COLUMNS = ["method", "defect", "level", "n", "accuracy"]


@dataclass(frozen=True)
class Evaluation:
    """``accuracy`` (%) over ``n`` structures, ``recall`` per true class (%; NaN for an absent
    class), and ``confusion`` counts (rows: true class, columns: predicted class)."""

    n: int
    accuracy: float
    recall: dict[str, float]
    confusion: pd.DataFrame


def evaluate(true_labels, predicted_labels, classes) -> Evaluation:
    """Compare predicted with true labels (strings from ``classes``)."""
    true = np.asarray(true_labels, dtype=object)
    predicted = np.asarray(predicted_labels, dtype=object)
    if true.shape != predicted.shape:
        raise ValueError(f"{len(true)} true labels for {len(predicted)} predictions")
    classes = list(classes)
    confusion = pd.DataFrame(0, index=pd.Index(classes, name="true"),
                             columns=pd.Index(classes, name="predicted"))
    for t, p in zip(true, predicted):
        confusion.loc[t, p] += 1
    recall = {}
    for c in classes:
        members = int(confusion.loc[c].sum())
        recall[c] = 100.0 * confusion.loc[c, c] / members if members else float("nan")
    accuracy = 100.0 * float(np.mean(true == predicted)) if len(true) else float("nan")
    return Evaluation(n=int(len(true)), accuracy=accuracy, recall=recall, confusion=confusion)


def accuracy_row(method: str, defect: str, level: float, evaluation: Evaluation) -> dict:
    """One row of ``accuracy.csv``."""
    return {"method": method, "defect": defect, "level": float(level), "n": evaluation.n,
            "accuracy": round(evaluation.accuracy, 4)}
