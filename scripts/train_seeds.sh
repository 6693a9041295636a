#!/usr/bin/env bash
# Members of the shipped model's ensemble: the robust preset's network trained with further seeds
# on the same data and the same validation split (split seed 2026, the preset's). Resumable: a
# member whose model exists is skipped. Needs results/robust/ from scripts/train_shipped_model.sh.
#   bash scripts/train_seeds.sh [PYTHON] [SEED...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}; shift || true
SEEDS=${*:-2027 2028}
OUT=results/robust/seeds
mkdir -p "$OUT"
for s in $SEEDS; do
  if [ -e "$OUT/model-$s.keras" ]; then echo "skip: $OUT/model-$s.keras exists"; continue; fi
  $PY -m paper_lib train --config config/robust.yaml --fingerprints results/robust/fingerprints.h5 \
      --augment results/robust/augment.h5 --epochs 3 --seed "$s" --split-seed 2026 \
      --out "$OUT/model-$s.keras" --history "$OUT/history-$s.csv"
done
echo done
