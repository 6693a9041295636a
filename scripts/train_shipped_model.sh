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
mkdir -p "$OUT"
step() { local out=$1; shift; if [ -e "$out" ]; then echo "skip: $out exists"; else echo "run: $*"; "$@"; fi; }

# pristine structures and their test variants, two shards side by side
for k in 0 1; do
  step "$OUT/structures-$k.db" $PY -m paper_lib structures --config $CFG --shard $k/2 --out "$OUT/structures-$k.db" &
done
wait
step "$OUT/structures.db" $PY -m paper_lib merge-structures --out "$OUT/structures.db" "$OUT"/structures-0.db "$OUT"/structures-1.db
# one displaced training copy of each pristine structure (0-10 % of the nearest-neighbour distance)
step "$OUT/augment.db" $PY -m paper_lib augment --config $CFG --db "$OUT/structures.db" --out "$OUT/augment.db"
step "$OUT/fingerprints.h5" $PY -m paper_lib fingerprints --db "$OUT/structures.db" --out "$OUT/fingerprints.h5" --processes 2 $FP
step "$OUT/augment.h5" $PY -m paper_lib fingerprints --db "$OUT/augment.db" --out "$OUT/augment.h5" --processes 2 $FP
step "$OUT/model.keras" $PY -m paper_lib train --config $CFG --fingerprints "$OUT/fingerprints.h5" \
    --augment "$OUT/augment.h5" --epochs 3 --out "$OUT/model.keras"
step "$OUT/accuracy.csv" $PY -m paper_lib evaluate --model "$OUT/model.keras" --fingerprints "$OUT/fingerprints.h5" \
    --out "$OUT/accuracy.csv" --confusion --predictions "$OUT/predictions.csv"
bash scripts/train_seeds.sh "$PY" 2027 2028 2029 2030
$PY scripts/calibrate_shipped_model.py --out paper_lib/data/model.keras
echo "done"
