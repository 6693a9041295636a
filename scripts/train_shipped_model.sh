#!/usr/bin/env bash
# The shipped model: the robust preset (config/robust.yaml, crystal_frame pre-processing) from
# structures to trained, evaluated networks (seed 2026 and four more seeds), calibrated to say
# `unknown` (scripts/calibrate_shipped_model.py writes paper_lib/data/model.keras and
# figures/robust/uncertainty/). Each step is skipped when its output exists, so an interrupted run
# resumes with the same command. Outputs under results/robust/.
#   bash scripts/train_shipped_model.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
CFG=config/robust.yaml
OUT=results/robust
FP="--preprocessing crystal_frame --target-atoms 250"
source scripts/dataset_steps.sh
dataset "$PY" $CFG "$OUT" $FP
step "$OUT/model.keras" $PY -m paper_lib train --config $CFG --fingerprints "$OUT/fingerprints.h5" \
    --augment "$OUT/augment.h5" --epochs 3 --out "$OUT/model.keras"
step "$OUT/accuracy.csv" $PY -m paper_lib evaluate --model "$OUT/model.keras" --fingerprints "$OUT/fingerprints.h5" \
    --out "$OUT/accuracy.csv" --confusion --predictions "$OUT/predictions.csv"
bash scripts/train_seeds.sh "$PY" 2027 2028 2029 2030
$PY scripts/calibrate_shipped_model.py --out paper_lib/data/model.keras
echo "done"
