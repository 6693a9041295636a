# Sourced by scripts/train_shipped_model.sh and scripts/train_extended_model.sh: the resumable steps
# from a preset to its structures, one displaced training copy of each and their fingerprints.
#   step OUT COMMAND...            run COMMAND unless OUT exists (an interrupted run resumes)
#   dataset PY CONFIG OUT [FINGERPRINT OPTIONS...]   ($AUGMENT_OPTIONS: more options of augment)

step() { local out=$1; shift; if [ -e "$out" ]; then echo "skip: $out exists"; else echo "run: $*"; "$@"; fi; }

dataset() {
  local py=$1 cfg=$2 out=$3; shift 3
  mkdir -p "$out"
  # pristine structures and their test variants, two shards side by side
  for k in 0 1; do
    step "$out/structures-$k.db" $py -m paper_lib structures --config "$cfg" --shard $k/2 --out "$out/structures-$k.db" &
  done
  wait
  step "$out/structures.db" $py -m paper_lib merge-structures --out "$out/structures.db" "$out"/structures-0.db "$out"/structures-1.db
  # one displaced training copy of each pristine structure (0-10 % of the nearest-neighbour distance)
  step "$out/augment.db" $py -m paper_lib augment --config "$cfg" --db "$out/structures.db" --out "$out/augment.db" \
      ${AUGMENT_OPTIONS:-}
  step "$out/fingerprints.h5" $py -m paper_lib fingerprints --db "$out/structures.db" --out "$out/fingerprints.h5" --processes 2 "$@"
  step "$out/augment.h5" $py -m paper_lib fingerprints --db "$out/augment.db" --out "$out/augment.h5" --processes 2 "$@"
}
