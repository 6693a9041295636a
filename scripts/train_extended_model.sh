#!/usr/bin/env bash
# The extended model's networks: the extended preset (config/extended.yaml: 30 prototype classes,
# crystal_frame_wide pre-processing) from structures to trained, evaluated networks, one per
# training seed (2027, the main one, then 2028 and 2029), all on the same data and validation split.
# Each step is skipped when its output exists, so an interrupted run resumes with the same command.
# Outputs under results/extended/.
#   bash scripts/train_extended_model.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
CFG=config/extended.yaml
OUT=results/extended
SEEDS="2027 2028 2029"
EPOCHS=5
# the training copy of each pristine structure: displaced (0-10 % of d_nn) and with 0-30 % of its atoms
# removed; without the vacancies, random vacancies read as the weak reflections of an ordered binary
AUGMENT_OPTIONS="--max-vacancies 30"
source scripts/dataset_steps.sh
# the rows carry their pre-processing (crystal_frame_wide) and cluster size
dataset "$PY" $CFG "$OUT"
mkdir -p "$OUT/seeds"
for s in $SEEDS; do
  step "$OUT/seeds/model-$s.keras" $PY -m paper_lib train --config $CFG --fingerprints "$OUT/fingerprints.h5" \
      --augment "$OUT/augment.h5" --epochs $EPOCHS --seed "$s" --split-seed 2027 \
      --out "$OUT/seeds/model-$s.keras" --history "$OUT/seeds/history-$s.csv"
  step "$OUT/seeds/accuracy-$s.csv" $PY -m paper_lib evaluate --model "$OUT/seeds/model-$s.keras" \
      --fingerprints "$OUT/fingerprints.h5" --method "cnn_seed$s" --out "$OUT/seeds/accuracy-$s.csv" --confusion \
      --predictions "$OUT/seeds/predictions-$s.csv"
done
echo "done"
