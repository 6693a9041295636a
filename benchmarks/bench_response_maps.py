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

``summary.txt`` holds the command, the network, the counts, the timings (``timings.json``, kept
across runs) and the headline rows of every table in ``--out``; ``--parts`` reruns some of the
measurements only.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


PARTS = ("deletion", "similarity", "usage")


def summary(out: Path, header: list[str]) -> str:
    """The text of ``summary.txt``, from the tables in ``out`` (whichever parts have been run) and
    ``timings.json`` (each part's command and seconds)."""
    runs = json.loads((out / "timings.json").read_text()) if (out / "timings.json").exists() else {}
    lines = [f"{part}: {run['seconds']:.0f} s, by: {run['command']}" for part, run in runs.items()]
    lines = [*header, *lines, ""]
    if (out / "deletion.csv").exists():
        table = pd.read_csv(out / "deletion.csv")
        pooled = table[table["class"] == "all"]
        wide = pooled.groupby(["map", "network", "k"], sort=False)["accuracy"].mean().unstack("k")
        spread = pooled[pooled["map"] == "random"].groupby("k")["accuracy"].agg(["min", "max"])
        per_class = table[table["k"].isin([2, 10, 20]) & table["map"].isin(
            ["gradient x input", "guided class map", "conv6 deconvolution", "brightest pixels"])
            & (table["network"] != "untrained")]
        lines += ["deletion test, accuracy (all fingerprints pooled) after deleting the top k pixels (columns: k):",
                  wide.round(3).to_string(), "random pixels, min and max over draws:", spread.T.round(3).to_string(),
                  "per class, trained network (columns: k):",
                  per_class.pivot_table(index=["class", "map"], columns="k", values="accuracy",
                                        sort=False).round(3).to_string(), ""]
    if (out / "map_similarity.csv").exists():
        similarity = pd.read_csv(out / "map_similarity.csv")
        reference = similarity[~similarity["rectify"] & ~similarity["pool_switches"]]
        lines += ["per-layer maps, reference projection: mean cosine similarity between classes, within a class,",
                  "with an empty fingerprint's map; share on the peaks; share of the detector covered:",
                  reference.pivot_table(index="layer", columns="network", sort=False,
                                        values=["between_class", "blank", "peak_share", "extent"]).round(3).to_string(),
                  "conv5 and conv6, every projection (trained and untrained):",
                  similarity[similarity["layer"].isin(["conv5", "conv6"])].round(3).to_string(index=False), ""]
    if (out / "filter_usage.csv").exists():
        usage = pd.read_csv(out / "filter_usage.csv")
        deep = usage[usage["layer"].isin(["conv5", "conv6"])]
        lines += ["conv5 and conv6 filters: share of positions firing, share of the activation, share of the",
                  "fingerprints on which the filter is among the top 4:", deep.round(3).to_string(index=False)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/paper", help="a preset's results folder (fingerprints/)")
    parser.add_argument("--model", default=None, help="the network (default: <results>/model.keras)")
    parser.add_argument("--per-class", type=int, default=300, help="held-out fingerprints per class")
    parser.add_argument("--draws", type=int, default=5, help="random-pixel draws")
    parser.add_argument("--similarity-per-class", type=int, default=10,
                        help="pristine held-out fingerprints per class for the map similarity")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which measurements to run (of {','.join(PARTS)}); "
                        "the summary is built from every table in --out")
    parser.add_argument("--out", default="figures/robust/response")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}")

    from paper_lib import interpret, plotting
    from paper_lib.model import load_model

    results = Path(args.results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model or results / "model.keras")
    untrained = interpret.untrained_like(model, seed=args.seed)
    timings = out / "timings.json"
    runs = json.loads(timings.read_text()) if timings.exists() else {}
    command = "python benchmarks/bench_response_maps.py " + " ".join(argv if argv is not None else sys.argv[1:])
    clock = {}

    start = time.perf_counter()
    data = interpret.held_out_fingerprints(sorted((results / "fingerprints").glob("shard-*.h5")), model,
                                           args.per_class, args.seed)
    clock["read"] = time.perf_counter() - start
    counts = pd.Series(data["label"]).value_counts().reindex(model.classes, fill_value=0)
    pristine = np.flatnonzero(data["defect"] == "pristine")
    print(f"{len(data['label'])} held-out fingerprints: " + ", ".join(f"{c} {n}" for c, n in counts.items()),
          flush=True)

    if "deletion" in parts:
        start = time.perf_counter()
        table = interpret.deletion_test(model, untrained, data["fingerprints"], data["label"], draws=args.draws,
                                        seed=args.seed, progress=lambda name: print(
                                            f"  {name}: {time.perf_counter() - start:.0f} s", flush=True))
        clock["deletion"] = time.perf_counter() - start
        table.to_csv(out / "deletion.csv", index=False)
        plotting.save_figure(plotting.deletion_figure(table), out, "deletion")

    if "similarity" in parts:
        start = time.perf_counter()
        few = np.concatenate([pristine[data["label"][pristine] == c][:args.similarity_per_class]
                              for c in model.classes])
        similarity = []
        for network, net in (("trained", model), ("untrained", untrained)):
            part = interpret.map_similarity_table(net, data["fingerprints"][few], data["label"][few],
                                                  rectify=(False, True), pool_switches=(False, True))
            similarity.append(part.assign(network=network))
        pd.concat(similarity, ignore_index=True).to_csv(out / "map_similarity.csv", index=False)
        clock["similarity"] = time.perf_counter() - start

    if "usage" in parts:
        start = time.perf_counter()
        usage = pd.concat([interpret.filter_usage(net, data["fingerprints"]).assign(network=network)
                           for network, net in (("trained", model), ("untrained", untrained))], ignore_index=True)
        usage.to_csv(out / "filter_usage.csv", index=False)
        clock["usage"] = time.perf_counter() - start

    runs.update({part: {"seconds": round(seconds, 1), "command": command.strip()} for part, seconds in clock.items()})
    timings.write_text(json.dumps(runs, indent=1) + "\n")
    header = [f"network: {args.model or results / 'model.keras'} (seed {model.metadata.get('seed')}, "
              f"{model.metadata.get('training', {}).get('epochs')} epochs); untrained: the same architecture, "
              f"Keras' initialisers, seed {args.seed}",
              f"held-out fingerprints: {len(data['label'])} (" + ", ".join(f"{c} {n}" for c, n in counts.items())
              + f"), {len(pristine)} of them pristine"]
    text = summary(out, header)
    (out / "summary.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
