"""Response maps, measured: do the pixels a map ranks highest matter to the network, and what do
the per-layer maps owe to the fingerprint rather than to the class?

    python benchmarks/bench_response_maps.py [--results results/paper] [--model FILE]
        [--per-class 300] [--draws 5] [--similarity-per-class 10] [--seed 0]
        [--out figures/robust/response]

The network is a preset's (default: the paper preset's ``results/paper/model.keras``); the
fingerprints are that preset's (``<results>/fingerprints/shard-*.h5``) of the structures the network
held out for validation (``validation_sids`` in its ``model.json``): up to ``--per-class`` per class,
drawn at random (``--seed``) from the pristine structures and every defect level. Three measurements:

1. **Deletion test** (:func:`paper_lib.interpret.deletion_test`): each fingerprint's top-k pixels
   (one channel's pixel; 12,288 per fingerprint) under each map are set to 0 and the network is
   asked again, k in :data:`paper_lib.interpret.DELETION_KS`. The maps: gradient x input and the
   gradient's magnitude of the true class's score, the guided class map, the conv1 and conv6
   deconvolution maps (the paper's figures), each from the trained network and from the same
   architecture with random weights; against them the brightest pixels (no network), random pixels
   (``--draws`` draws) and gradient x input of the runner-up class. Writes ``deletion.csv`` (long
   form, per class and pooled: accuracy and mean true-class probability) and ``deletion.png/.pdf``.
2. **Class independence of the per-layer maps** (:func:`paper_lib.interpret.map_similarity_table`)
   on ``--similarity-per-class`` pristine held-out fingerprints per class, trained and untrained,
   with and without rectification and pooling switches: ``map_similarity.csv``.
3. **Filter usage** (:func:`paper_lib.interpret.filter_usage`) on the deletion set, trained and
   untrained: ``filter_usage.csv``.

``summary.txt`` holds the command, the network, the counts, the timings and the headline rows.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/paper", help="a preset's results folder (fingerprints/)")
    parser.add_argument("--model", default=None, help="the network (default: <results>/model.keras)")
    parser.add_argument("--per-class", type=int, default=300, help="held-out fingerprints per class")
    parser.add_argument("--draws", type=int, default=5, help="random-pixel draws")
    parser.add_argument("--similarity-per-class", type=int, default=10,
                        help="pristine held-out fingerprints per class for the map similarity")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="figures/robust/response")
    args = parser.parse_args(argv)

    from paper_lib import interpret, plotting
    from paper_lib.model import load_model

    results = Path(args.results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model or results / "model.keras")
    untrained = interpret.untrained_like(model, seed=args.seed)
    clock = {}

    start = time.perf_counter()
    data = interpret.held_out_fingerprints(sorted((results / "fingerprints").glob("shard-*.h5")), model,
                                           args.per_class, args.seed)
    clock["read"] = time.perf_counter() - start
    counts = pd.Series(data["label"]).value_counts().reindex(model.classes, fill_value=0)
    print(f"{len(data['label'])} held-out fingerprints: " + ", ".join(f"{c} {n}" for c, n in counts.items()),
          flush=True)

    start = time.perf_counter()
    table = interpret.deletion_test(model, untrained, data["fingerprints"], data["label"], draws=args.draws,
                                    seed=args.seed, progress=lambda name: print(
                                        f"  {name}: {time.perf_counter() - start:.0f} s", flush=True))
    clock["deletion"] = time.perf_counter() - start
    table.to_csv(out / "deletion.csv", index=False)
    plotting.save_figure(plotting.deletion_figure(table), out, "deletion")

    start = time.perf_counter()
    pristine = np.flatnonzero(data["defect"] == "pristine")
    few = np.concatenate([pristine[data["label"][pristine] == c][:args.similarity_per_class] for c in model.classes])
    similarity = []
    for network, net in (("trained", model), ("untrained", untrained)):
        part = interpret.map_similarity_table(net, data["fingerprints"][few], data["label"][few],
                                              rectify=(False, True), pool_switches=(False, True))
        similarity.append(part.assign(network=network))
    similarity = pd.concat(similarity, ignore_index=True)
    similarity.to_csv(out / "map_similarity.csv", index=False)
    clock["similarity"] = time.perf_counter() - start

    start = time.perf_counter()
    usage = pd.concat([interpret.filter_usage(net, data["fingerprints"]).assign(network=network)
                       for network, net in (("trained", model), ("untrained", untrained))], ignore_index=True)
    usage.to_csv(out / "filter_usage.csv", index=False)
    clock["filter usage"] = time.perf_counter() - start

    pooled = table[table["class"] == "all"]
    wide = pooled.groupby(["map", "network", "k"], sort=False)["accuracy"].mean().unstack("k")
    spread = pooled[pooled["map"] == "random"].groupby("k")["accuracy"].agg(["min", "max"])
    reference = similarity[(similarity["network"] == "trained") & ~similarity["rectify"] & ~similarity["pool_switches"]]
    lines = [
        "python benchmarks/bench_response_maps.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        f"network: {model.path} (trained {json.dumps(model.metadata.get('training', {}).get('seconds'))} s, "
        f"seed {model.metadata.get('seed')}); untrained: the same architecture, Keras' initialisers, seed {args.seed}",
        f"held-out fingerprints: {len(data['label'])} ("
        + ", ".join(f"{c} {n}" for c, n in counts.items()) + f"), {len(pristine)} of them pristine",
        "time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in clock.items()),
        "",
        "deletion test, accuracy (all fingerprints pooled) after deleting the top k pixels (columns: k):",
        wide.round(3).to_string(),
        "random pixels, min and max over draws:",
        spread.T.round(3).to_string(),
        "",
        "per-layer maps (trained network, reference projection): mean cosine similarity between classes,",
        "within a class, with an empty fingerprint's map, and share on the peaks:",
        reference[["layer", "between_class", "within_class", "blank", "peak_share"]].round(3).to_string(index=False),
    ]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
