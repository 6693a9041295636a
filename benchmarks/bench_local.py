"""Local structure maps: speed against OVITO's PTM in the same run, cost against window count, memory,
accuracy on synthetic polycrystals and on APT-like clusters.

    python benchmarks/bench_local.py [--sizes 10000 100000] [--processes 2] [--memory-atoms 1000000]
                                     [--strides 2.0 2.8 4.0] [--apt 20] [--out figures/robust/local]

Parts (each figure is measured in this run; the ratios are what to compare between machines):

1. **Speed.** For every size in ``--sizes``: a periodic Voronoi polycrystal of at least that many atoms (fcc, bcc, hcp, diamond,
   amorphous grains; :func:`paper_lib.synthetic.voronoi_polycrystal`, pristine) is labelled by
   :func:`paper_lib.local.local_labels` at the default window and stride on ``--processes`` fingerprint
   workers, and by PTM (OVITO, every template) on the same atoms in the same process: atoms/s of each
   and their ratio.
2. **Cost against window count.** The smallest size at strides of ``--strides`` nearest-neighbour
   distances: windows, seconds, seconds per window, interior accuracy.
3. **Accuracy.** The first size at the four defect levels of the local-map comparison (pristine,
   delta 3 %, eta 20 %, eta 20 % + delta 3 %): interior-atom accuracy (>= 5 Angstrom from a boundary)
   of the CNN's map, PTM and adaptive CNA, and the share of the amorphous grain called unknown.
4. **APT-like clusters.** ``--apt`` non-periodic clusters per crystal kind (about 1,600 atoms, 50 %
   missing, Gaussian noise of 5 % d_nn; :func:`paper_lib.synthetic.apt_cluster`) classified whole:
   the share right.
5. **Memory.** ``classify-local`` on a sample of at least ``--memory-atoms`` atoms in a subprocess: the peak
   memory of the whole process tree (PSS sum: the memory the run takes; RSS sum: an upper bound) and of
   its largest process (GNU time), and its atoms/s (0 skips). ``--memory-stride`` (Angstrom) sets its
   stride: windows are cut, classified and forgotten one chunk at a time, so the peak grows with the
   atoms, not with the number of windows.

Targets: >= 2,000 atoms/s on 2 cores for 1e5 atoms; <= 4 GB for 1e6 atoms; interior accuracy >= 97 %
pristine and at delta 3 %, >= 95 % at eta 20 % (with and without delta 3 %); >= 90 % of the amorphous
grain unknown; APT-like >= 95 % right.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from paper_lib.baselines import ptm_atom_labels
from paper_lib.evaluation import LOCAL_LEVELS, LOCAL_METHODS, local_map_comparison, local_scores
from paper_lib.local import STRIDE_NN, local_labels, nearest_neighbour_distance
from paper_lib.model import classify, limit_tensorflow_threads, load_model
from paper_lib.synthetic import apt_cluster, voronoi_polycrystal


def polycrystal_of_at_least(n, seed):
    """A pristine Voronoi polycrystal of at least ``n`` atoms: overlaps removed at the boundaries and in
    the amorphous grain leave a sample some per cent short of the atoms asked for, so ask for more."""
    sample = voronoi_polycrystal(n, seed=seed)
    if len(sample) < n:
        sample = voronoi_polycrystal(int(math.ceil(1.01 * n * n / len(sample))), seed=seed)
    return sample


def speed(sizes, processes, model, seed):
    rows = []
    for n in sizes:
        sample = polycrystal_of_at_least(n, seed)
        start = time.perf_counter()
        result = local_labels(sample, model=model, processes=processes)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        ptm_atom_labels(sample)
        ptm = time.perf_counter() - start
        rows.append({"atoms": len(sample), "windows": len(result.centres), "window_A": round(result.window, 2),
                     "stride_A": round(result.stride, 2), "cnn_s": round(ours, 1), "cnn_atoms_per_s": round(len(sample) / ours),
                     "ptm_s": round(ptm, 2), "ptm_atoms_per_s": round(len(sample) / ptm),
                     "ptm_over_cnn": round(ours / ptm, 1)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def stride_cost(n, strides, processes, model, seed):
    sample = voronoi_polycrystal(n, seed=seed)
    d = nearest_neighbour_distance(sample)
    rows = []
    for s in strides:
        start = time.perf_counter()
        result = local_labels(sample, stride=s * d, model=model, processes=processes)
        took = time.perf_counter() - start
        scores = local_scores(sample.arrays["truth"], result.label, sample.arrays["boundary_distance"])
        rows.append({"stride_nn": s, "stride_A": round(s * d, 2), "windows": len(result.centres), "seconds": round(took, 1),
                     "ms_per_window": round(1000 * took / len(result.centres), 1),
                     "atoms_per_s": round(len(sample) / took), "interior": round(scores["interior"], 4)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def accuracy(n, processes, model, seed):
    rows = []
    for level in LOCAL_LEVELS:
        sample = local_map_comparison(n, seed, level, model, processes=processes)
        for method in LOCAL_METHODS:
            scores = local_scores(sample.arrays["truth"], sample.arrays[method], sample.arrays["boundary_distance"])
            rows.append({"level": level, "method": method, "interior": round(scores["interior"], 4),
                         "crystalline": round(scores["crystalline"], 4),
                         "amorphous_unknown": round(scores["amorphous_unknown"], 4),
                         **{f"interior_{c}": round(v, 4) for c, v in scores["per_class"].items()},
                         "n_interior": scores["n_interior"], "seconds": round(sample.info[f"{method}_s"], 1)})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def apt(per_kind, model, seed):
    kinds = ("fcc", "bcc", "hcp", "diam")
    clusters = [apt_cluster(kind, n_atoms=1600, missing=0.5, noise=0.05, seed=seed + 1000 * k + i)
                for k, kind in enumerate(kinds) for i in range(per_kind)]
    results = classify(clusters, model)
    rows = [{"kind": c.info["kind"], "truth": c.info["truth"], "label": r.label, "atoms": len(c)}
            for c, r in zip(clusters, results)]
    table = pd.DataFrame(rows)
    table["right"] = table["truth"] == table["label"]
    print(table.groupby("kind")["right"].mean().to_dict(), flush=True)
    return table


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB summed over ``pid`` and its descendants. PSS shares the pages the forked
    fingerprint workers hold in common with their parent among them, so the PSS sum is the memory the
    run takes; the RSS sum counts shared pages once per process (an upper bound)."""
    pss = rss = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    return pss / 1024, rss / 1024


def memory(n_atoms, processes, seed, stride=None):
    """``classify-local`` on a sample of at least ``n_atoms`` atoms in a subprocess: the peak (sampled
    every 0.2 s) of the memory of the whole process tree (the command and its fingerprint workers),
    as PSS and RSS sums, and of its largest single process (GNU time)."""
    from ase.io import write

    with tempfile.TemporaryDirectory() as tmp:
        sample = polycrystal_of_at_least(n_atoms, seed)
        path = Path(tmp) / "sample.extxyz"
        write(path, sample, format="extxyz")
        out = Path(tmp) / "out.extxyz"
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "paper_lib", "classify-local", str(path),
                   "--out", str(out), "--jobs", str(processes), "--json"]
        if stride:
            command += ["--stride", str(stride)]
        start = time.perf_counter()
        with open(Path(tmp) / "stdout", "w+") as stdout, open(Path(tmp) / "stderr", "w+") as stderr:
            run = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
            peak_pss = peak_rss = 0.0
            while run.poll() is None:
                pss, rss = _tree_memory_mb(run.pid)
                peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
                time.sleep(0.2)
            took = time.perf_counter() - start
            stdout.seek(0)
            stderr.seek(0)
            out_text, err_text = stdout.read(), stderr.read()
        if run.returncode != 0:
            raise RuntimeError(err_text[-3000:])
        peak_kb = max(int(line.split()[-1]) for line in err_text.splitlines() if "Maximum resident" in line)
        summary = json.loads(out_text.splitlines()[-1])
        row = {"atoms": len(sample), "stride_A": summary["stride"], "windows": summary["windows"], "seconds": round(took, 1),
               "atoms_per_s": round(len(sample) / took), "peak_tree_pss_mb": round(peak_pss),
               "peak_tree_rss_mb": round(peak_rss), "peak_largest_process_rss_mb": round(peak_kb / 1024)}
        print(row, flush=True)
        return pd.DataFrame([row])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--strides", type=float, nargs="+", default=[2.0, STRIDE_NN, 4.0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--memory-atoms", type=int, default=1_000_000)
    parser.add_argument("--memory-stride", type=float, help="the memory run's stride in Angstrom (default: the "
                        "default stride); windows stream, so the peak depends on the atoms, not the window count")
    parser.add_argument("--apt", type=int, default=20, help="APT-like clusters per kind (0 skips)")
    parser.add_argument("--accuracy-atoms", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="figures/robust/local")
    parser.add_argument("--parts", nargs="+", default=["speed", "strides", "accuracy", "apt", "memory"])
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.processes > 1:
        limit_tensorflow_threads(1)
    model = load_model()
    info = {"processes": args.processes, "cpu_count": os.cpu_count(), "load_before": os.getloadavg()}
    if "speed" in args.parts:
        speed(args.sizes, args.processes, model, args.seed).to_csv(out / "speed.csv", index=False)
    if "strides" in args.parts:
        stride_cost(min(args.sizes), args.strides, args.processes, model, args.seed).to_csv(out / "strides.csv", index=False)
    if "accuracy" in args.parts:
        accuracy(args.accuracy_atoms, args.processes, model, args.seed).to_csv(out / "accuracy.csv", index=False)
    if "apt" in args.parts and args.apt:
        apt(args.apt, model, args.seed).to_csv(out / "apt.csv", index=False)
    if "memory" in args.parts and args.memory_atoms:
        memory(args.memory_atoms, args.processes, args.seed, args.memory_stride).to_csv(out / "memory.csv", index=False)
    info["load_after"] = os.getloadavg()
    (out / "machine.json").write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
