"""Table 1 of the robust preset (the shipped model), every test structure counted.

    python benchmarks/table1_robust.py [--results results/robust] [--out figures/robust/table1.csv]

Reads what ``scripts/train_shipped_model.sh`` wrote: the per-structure predictions of ``evaluate``
and the fingerprint file's ``failed_row_id`` (structures whose crystal frame was not found), looks
the failed rows up in ``structures.db`` and counts them as wrong. Prints, per defect and level: the
structures, those with no frame, the accuracy over all of them, and the share of all structures
that got a wrong answer with probability > 0.9 (confidently wrong).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def table(results: Path) -> pd.DataFrame:
    from ase.db import connect

    from paper_lib.io import read_fingerprints

    predictions = pd.read_csv(results / "predictions.csv")
    failed = set(int(i) for i in read_fingerprints(results / "fingerprints.h5", with_fingerprints=False)["failed_row_id"])
    import json

    # pristine accuracy is over the held-out validation structures only (as in `evaluate`)
    validation = set(json.loads((results / "model.json").read_text())["training_data"]["validation_sids"])
    rows = [{"defect": r.defect, "level": float(r.level), "label": r.label}
            for r in connect(results / "structures.db").select()
            if r.id in failed and (r.defect != "pristine" or r.sid in validation)]
    failed = pd.DataFrame(rows, columns=["defect", "level", "label"])
    out = []
    levels = sorted(set(zip(predictions.defect, predictions.level)) | set(zip(failed.defect, failed.level)))
    for defect, level in levels:
        group = predictions[(predictions.defect == defect) & (predictions.level == level)]
        lost = failed[(failed.defect == defect) & (failed.level == level)]
        n = len(group) + len(lost)
        right = int((group.predicted == group.label).sum())
        confident = int(((group.predicted != group.label) & (group.detail > 0.9)).sum())
        out.append({"defect": defect, "level": level, "n": n, "no_frame": len(lost),
                    "accuracy": round(100 * right / n, 2),
                    "accuracy_where_framed": round(100 * right / max(len(group), 1), 2),
                    "confidently_wrong": round(100 * confident / n, 2)})
    return pd.DataFrame(out).sort_values(["defect", "level"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/robust")
    parser.add_argument("--out", help="CSV to write")
    args = parser.parse_args()
    result = table(Path(args.results))
    print(result.to_string(index=False))
    if args.out:
        from paper_lib.io import atomic_path

        with atomic_path(args.out) as tmp:
            result.to_csv(tmp, index=False)


if __name__ == "__main__":
    main()
