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
    """Compare predicted with true labels (strings from ``classes``).

    Predictions outside ``classes`` (a baseline's ``none``) get their own confusion columns."""
    true = np.asarray(true_labels, dtype=object)
    predicted = np.asarray(predicted_labels, dtype=object)
    if true.shape != predicted.shape:
        raise ValueError(f"{len(true)} true labels for {len(predicted)} predictions")
    classes = list(classes)
    extra = sorted(set(predicted.tolist()) - set(classes))   # e.g. a baseline's "none"
    confusion = pd.DataFrame(0, index=pd.Index(classes, name="true"),
                             columns=pd.Index(classes + extra, name="predicted"))
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


#: columns of a per-structure prediction table (``python -m paper_lib evaluate --predictions``,
#: ``python -m paper_lib baselines``): one row per structure and method
PREDICTION_COLUMNS = ["method", "row_id", "sid", "label", "defect", "level", "predicted", "detail"]


@dataclass(frozen=True)
class Summary:
    """Tables of :func:`summarise`: ``accuracy`` (ACCURACY_COLUMNS), ``recall`` (method, defect,
    level, class, n, recall in %) and ``confusion`` ((method, defect, level) -> counts)."""

    accuracy: pd.DataFrame
    recall: pd.DataFrame
    confusion: dict


def summarise(predictions: pd.DataFrame, classes) -> Summary:
    """Accuracy, per-class recall and confusion per method, defect kind and level from a
    per-structure prediction table (PREDICTION_COLUMNS)."""
    missing = set(("method", "label", "defect", "level", "predicted")) - set(predictions.columns)
    if missing:
        raise ValueError(f"the prediction table lacks the column(s) {', '.join(sorted(missing))}")
    rows, recalls, confusion = [], [], {}
    for (method, defect, level), group in predictions.groupby(["method", "defect", "level"], sort=True):
        result = evaluate(group["label"], group["predicted"], classes)
        rows.append(accuracy_row(method, defect, level, result))
        for c, r in result.recall.items():
            recalls.append({"method": method, "defect": defect, "level": float(level), "class": c,
                            "n": int(result.confusion.loc[c].sum()), "recall": round(r, 4)})
        confusion[(method, defect, float(level))] = result.confusion
    return Summary(pd.DataFrame(rows, columns=ACCURACY_COLUMNS),
                   pd.DataFrame(recalls, columns=["method", "defect", "level", "class", "n", "recall"]),
                   confusion)
