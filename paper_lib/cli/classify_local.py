from __future__ import annotations

import sys
from pathlib import Path

from .common import structure_format


class CLICommand:
    """per-atom classes of a large sample, from windows (extended XYZ out)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("path", help="the sample: any file ASE reads (LAMMPS dumps with --format lammps-dump-text)")
        p.add_argument("--window", type=float,
                       help="window radius in Angstrom (default: 3.6 nearest-neighbour distances)")
        p.add_argument("--stride", type=float, help="spacing of the window centres in Angstrom (default: 4 "
                                                    "nearest-neighbour distances)")
        p.add_argument("--out", required=True, help="extended XYZ file to write, with per-atom label, probability "
                                                    "and uncertainty; it appears when complete")
        p.add_argument("--format", type=structure_format, help="ASE format name, when the file name does not tell")
        p.add_argument("--frame", type=int, default=0, help="which frame of a trajectory (default 0, the first)")
        p.add_argument("--refine", action="store_true", help="look again at half the stride where neighbouring "
                                                             "windows disagree (sharper boundaries, several times "
                                                             "the windows)")
        p.add_argument("--model", help="model file (.keras), or a shipped model by name: robust (the default), extended or "
                                       "paper2018")
        p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes for the fingerprints (default 1)")
        p.add_argument("--json", action="store_true", help="the share of atoms per class as one JSON object")
        p.add_argument("--progress", action="store_true", help="progress bar on stderr even when it is not a terminal")

    @staticmethod
    def run(args) -> int:
        """Per-atom classes of one frame of a large sample (:func:`paper_lib.local.local_labels`),
        written as extended XYZ with the arrays label, probability and uncertainty; the share of
        atoms per class on stdout (a table, or one JSON object)."""
        import json

        from ..io import iter_structure_file
        from ..local import LocalError, local_labels, write_local
        from ..model import limit_tensorflow_threads, load_model

        out = Path(args.out)
        frame = None
        for index, atoms in iter_structure_file(args.path, args.format):
            if isinstance(atoms, Exception):
                print(f"error: {atoms}", file=sys.stderr)
                return 1
            if index == args.frame:
                frame = atoms
                break
        if frame is None:
            print(f"error: {args.path}: has no frame {args.frame}", file=sys.stderr)
            return 1
        name = f"{args.path} frame {args.frame}"
        if args.jobs > 1:
            limit_tensorflow_threads(1)
        try:
            loaded = load_model(args.model)
            result = local_labels(frame, args.window, args.stride, loaded, refine=args.refine, processes=args.jobs,
                                  progress=True if args.progress else None,
                                  checkpoint=out.with_name(out.name + ".partial.npz"), name=name)
        except (LocalError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        write_local(frame, result, out)
        fractions = result.fractions()
        if args.json:
            print(json.dumps({"source": str(args.path), "frame": args.frame, "atoms": len(frame),
                              "windows": len(result.centres), "window": round(result.window, 4),
                              "stride": round(result.stride, 4),
                              "fractions": {k: round(v, 6) for k, v in fractions.items()}, "out": str(out)}))
        else:
            print(f"{name}: {len(frame)} atoms, {len(result.centres)} windows of radius {result.window:.2f} A "
                  f"every {result.stride:.2f} A -> {out}")
            for label, share in fractions.items():
                print(f"  {label:8s} {100 * share:6.2f} %")
        return 0
