"""Classification throughput and memory, from files: streaming ``classify`` (with its uncertainty)
against the old path (one network, no uncertainty).

    python benchmarks/bench_classify.py [--frames 5000] [--throughput-frames 256] [--n 200]
                                        [--processes N] [--model FILE]

Three parts, each against a reference timed in the same run:

1. Throughput of the streaming path (``iter_structure_file`` -> ``classify_iter``) on an extended
   XYZ trajectory of ``--throughput-frames`` periodic 256-atom frames (fcc Cu, 4 x 4 x 4
   conventional cells, Gaussian thermal noise of 3 % of the nearest-neighbour distance on every
   coordinate, so that frames differ), on 1 core and on ``--processes`` cores, in structures/s.
   ``classify`` samples the model's uncertainty (an ensemble's members, or MC-dropout passes) and
   decides ``unknown``, as it does by default. Reference: the old non-streaming path without
   uncertainty (every frame read with ``read_structure_file``, then one batch fingerprinted and
   predicted by one network, its first member for an ensemble: the code of ``classify`` before
   streaming, copied below). The network runs on one thread (as ``classify --jobs N`` runs it,
   beside N fingerprint workers), so that "1 core" is one core.
2. Peak memory of ``python -m paper_lib classify TRAJ --jobs N --csv FILE`` on a trajectory of
   ``--frames`` such frames, run as a subprocess, against the old path in a subprocess too. Peak
   RSS is that of the largest single process of the run (GNU time's maximum resident set size,
   /usr/bin/time); the sampled peak PSS of the whole process tree (main process plus workers,
   shared pages counted once) is shown beside it.
3. ``--n`` small single-structure files (CIF, POSCAR, extended XYZ; primitive cells of the seven
   classes) classified, against reading them and asking spglib for the space group (the
   classical method, which needs no model). ``--n 0`` skips this part.

Targets: >= 40 structures/s on 2 cores with uncertainty, <= 500 MB peak RSS. Absolute speeds vary between machines
and with load (and with the fingerprint pre-processing); the ratios are what to read.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.io import write

from paper_lib.io import iter_structure_file, read_structure_file
from paper_lib.model import Classification, classify, classify_iter, limit_tensorflow_threads, load_model, predict
from paper_lib.structures import CLASSES_7, prototype_for, random_rotation, spacegroup_number

FCC_A = 3.61                      # Angstrom, Cu
NOISE = 0.03                      # of the nearest-neighbour distance, per coordinate


def trajectory_frames(n: int, seed: int = 0):
    """``n`` periodic 256-atom fcc Cu frames (4 x 4 x 4 conventional cells) with Gaussian noise
    of standard deviation ``NOISE`` x nearest-neighbour distance (Angstrom) on every coordinate."""
    rng = np.random.default_rng(seed)
    perfect = bulk("Cu", "fcc", a=FCC_A, cubic=True).repeat((4, 4, 4))
    sigma = NOISE * FCC_A / np.sqrt(2)
    for _ in range(n):
        frame = perfect.copy()
        frame.positions += rng.normal(0.0, sigma, frame.positions.shape)
        yield frame


def write_trajectory(path: Path, n: int) -> Path:
    write(path, trajectory_frames(n), format="extxyz")
    return path


def one_network(loaded):
    """The model without uncertainty: one network (an ensemble's first member), a plain pass."""
    import dataclasses

    from paper_lib.uncertainty import Decision, is_ensemble

    network = loaded.model.get_layer("member_0") if is_ensemble(loaded.model) else loaded.model
    return dataclasses.replace(loaded, model=network, decision=Decision(method="ensemble", samples=1))


def old_classify(structures, loaded, processes: int) -> list[Classification]:
    """The code path of ``classify`` before streaming and uncertainty: one batch of fingerprints,
    one prediction by one network."""
    from paper_lib.diffraction import fingerprints

    loaded = one_network(loaded)
    sources = [("", i) for i in range(len(structures))]
    batch = fingerprints(structures, processes=processes, names=[f"structure {i}" for i in range(len(structures))],
                         progress=False, **loaded.fingerprint)
    probabilities = predict(loaded, batch.fingerprints)
    out = [None] * len(structures)
    for row, index in enumerate(batch.ok):
        p = probabilities[row]
        out[index] = Classification(label=loaded.classes[int(np.argmax(p))],
                                    probabilities={c: float(v) for c, v in zip(loaded.classes, p)},
                                    source=sources[index][0], index=sources[index][1])
    for index, message in batch.failed:
        out[index] = Classification(label=None, probabilities={}, source=sources[index][0],
                                    index=sources[index][1], error=message)
    return out


def run_old_path(path: str, processes: int, model: str | None) -> None:
    """What ``classify`` on the command line did before streaming: read all, classify all, print."""
    loaded = load_model(model)
    frames = read_structure_file(path)
    for result in old_classify(frames, loaded, processes):
        print(json.dumps(result.as_dict()))


def warm_up(loaded) -> None:
    """Compile the network for every batch shape the runs use (powers of two up to 256)."""
    from paper_lib.model import predict_with_uncertainty

    for size in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        predict(one_network(loaded), np.zeros((size, 64, 64, 3), np.float32))
        predict_with_uncertainty(loaded, np.zeros((size, 64, 64, 3), np.float32))
    classify(next(trajectory_frames(1)), loaded)


def throughput(path: Path, n: int, loaded, processes: int) -> tuple[float, float, int, int]:
    """(streaming, old) structures/s on ``processes`` cores, and the fcc counts of each."""
    start = time.perf_counter()
    fcc_stream = sum(r.label == "fcc" for r in
                     classify_iter(((str(path), i, a) for i, a in iter_structure_file(path)), loaded,
                                   processes=processes))
    stream_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    fcc_old = sum(r.label == "fcc" for r in old_classify(read_structure_file(path), loaded, processes))
    old_rate = n / (time.perf_counter() - start)
    return stream_rate, old_rate, fcc_stream, fcc_old


def _descendants(pid: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found.extend(frontier)
    return found


def _tree_pss_mb(pid: int) -> float:
    """Proportional set size (MB) of a process and its descendants (Linux)."""
    total_kb = 0
    for p in [pid, *_descendants(pid)]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as handle:
                total_kb += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, ValueError):
            pass
    return total_kb / 1024


def peak_memory(command: list[str], folder: Path) -> tuple[float, float, float]:
    """Run ``command`` under GNU time (stdout discarded); returns (peak RSS of its largest process in
    MB, sampled peak PSS of its process tree in MB, wall seconds).

    GNU time forks the command from a small process: the ``ru_maxrss`` Linux gives a child also
    holds the RSS its parent had when it forked, which here would be this benchmark's TensorFlow.
    """
    if not Path("/usr/bin/time").exists():
        raise SystemExit("the memory part needs GNU time (/usr/bin/time; apt-get install time)")
    rss_file, log = folder / "maxrss.txt", folder / "stderr.txt"
    start = time.perf_counter()
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command],
                                stdout=subprocess.DEVNULL, stderr=stderr)
        peak_pss = 0.0
        while proc.poll() is None:
            peak_pss = max(peak_pss, _tree_pss_mb(proc.pid))
            time.sleep(0.5)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{log.read_text()[-2000:]}")
    return int(rss_file.read_text().split()[-1]) / 1024, peak_pss, wall     # %M is in KiB


def make_files(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        proto = prototype_for(CLASSES_7[i % 7], rng)
        atoms, _ = proto.build("Cu", 2.5, rng)
        atoms = random_rotation(atoms, rng)
        fmt = ("cif", "vasp", "extxyz")[i % 3]
        path = folder / f"s{i:04d}.{'vasp' if fmt == 'vasp' else fmt}"
        write(path, atoms, format=fmt)
        paths.append(path)
    return paths


def small_files(folder: Path, n: int, loaded, processes: int) -> None:
    paths = make_files(folder, n)
    start = time.perf_counter()
    for path in paths:
        spacegroup_number(read_structure_file(path)[0], 1e-3)
    spglib_rate = n / (time.perf_counter() - start)
    print(f"\n3. {n} small files (CIF/POSCAR/extXYZ), read + classify, against spglib")
    print(f"  spglib (read + space group)                 : {spglib_rate:7.1f} structures/s")
    for cores in sorted({1, processes}):
        start = time.perf_counter()
        results = list(classify_iter(((str(p), i, a) for p in paths for i, a in iter_structure_file(p)), loaded,
                                     processes=cores))
        rate = n / (time.perf_counter() - start)
        print(f"  classify (read + fingerprint + CNN), {cores} core(s): {rate:7.1f} structures/s "
              f"({rate / spglib_rate:.2f}x spglib)")
    correct = sum(r.label == CLASSES_7[i % 7] for i, r in enumerate(results))
    unknown = [CLASSES_7[i % 7] for i, r in enumerate(results) if r.label == "unknown"]
    print(f"  correct class: {correct}/{n}; unknown: {len(unknown)} ({', '.join(sorted(set(unknown))) or '-'}); "
          f"a wrong class: {n - correct - len(unknown)}")


def throughput_part(folder: Path, n: int, loaded, processes: int) -> None:
    path = write_trajectory(folder / "short.extxyz", n)
    d = loaded.decision
    print(f"1. throughput: {n} frames of 256 atoms (fcc, {NOISE:.0%} noise), model {loaded.path.name}, "
          f"uncertainty: {d.method.replace('_', ' ')} ({d.samples} samples)")
    for cores in sorted({1, processes}):
        stream, old, fcc_stream, fcc_old = throughput(path, n, loaded, cores)
        print(f"  {cores} core(s): streaming with uncertainty {stream:6.1f} structures/s, old path (one network, "
              f"no uncertainty) {old:6.1f} structures/s (ratio {stream / old:.2f}); "
              f"classified fcc {fcc_stream}/{n} and {fcc_old}/{n}")


def memory_part(folder: Path, n: int, loaded, processes: int) -> None:
    start = time.perf_counter()
    path = write_trajectory(folder / "long.extxyz", n)
    print(f"\n2. memory: `classify` of {n} frames of 256 atoms ({path.stat().st_size / 1e6:.0f} MB extXYZ, "
          f"written in {time.perf_counter() - start:.0f} s), {processes} process(es)")
    model = ["--model", str(loaded.path)]
    floor_rss, _, _ = peak_memory([sys.executable, "-c", "import sys; from paper_lib.model import load_model; "
                                   "load_model(sys.argv[1])", str(loaded.path)], folder)
    stream_rss, stream_pss, stream_wall = peak_memory(
        [sys.executable, "-m", "paper_lib", "classify", str(path), "--jobs", str(processes),
         "--csv", str(folder / "out.csv"), *model], folder)
    rows = sum(1 for _ in open(folder / "out.csv")) - 1
    old_rss, old_pss, old_wall = peak_memory(
        [sys.executable, __file__, "--old-path", str(path), "--processes", str(processes), *model], folder)
    print(f"  streaming CLI : peak RSS {stream_rss:6.0f} MB, tree PSS {stream_pss:6.0f} MB, "
          f"{stream_wall:5.0f} s ({n / stream_wall:.1f} structures/s with start-up), {rows} CSV rows")
    print(f"  old path      : peak RSS {old_rss:6.0f} MB, tree PSS {old_pss:6.0f} MB, "
          f"{old_wall:5.0f} s ({n / old_wall:.1f} structures/s with start-up)")
    print(f"  streaming / old: peak RSS {stream_rss / old_rss:.2f}, wall time {stream_wall / old_wall:.2f}")
    print(f"  floor: a process that only loads the model (TensorFlow) peaks at {floor_rss:.0f} MB RSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000,
                        help="frames of the memory run (default 5000; 0 skips it)")
    parser.add_argument("--throughput-frames", type=int, default=256,
                        help="frames of the throughput runs (default 256; 0 skips them)")
    parser.add_argument("--n", type=int, default=200, help="small files of part 3 (default 200; 0 skips it)")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--processes", type=int, default=os.cpu_count(), help="cores (default all)")
    parser.add_argument("--old-path", metavar="TRAJ", help=argparse.SUPPRESS)   # the reference subprocess
    args = parser.parse_args()
    if args.old_path:
        run_old_path(args.old_path, args.processes, args.model)
        return
    # the network runs on one thread, as `classify --jobs N` runs it: "1 core" is then one core
    limit_tensorflow_threads(1)
    loaded = load_model(args.model)
    warm_up(loaded)
    with tempfile.TemporaryDirectory() as tmp:
        if args.throughput_frames:
            throughput_part(Path(tmp), args.throughput_frames, loaded, args.processes)
        if args.frames:
            memory_part(Path(tmp), args.frames, loaded, args.processes)
        if args.n:
            small_files(Path(tmp), args.n, loaded, args.processes)


if __name__ == "__main__":
    main()
