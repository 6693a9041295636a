from __future__ import annotations

import sys


class CLICommand:
    """local maps of a synthetic polycrystal at one defect level (CNN, PTM, a-CNA)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--atoms", type=int, required=True,
                       help="atoms in the polycrystal (a preset's local_maps.atoms)")
        p.add_argument("--seed", type=int, default=0, help="its random seed (local_maps.seed)")
        p.add_argument("--level", required=True, help="pristine, displacements_3, vacancies_20 or "
                                                      "vacancies_20_displacements_3")
        p.add_argument("--model", help="model file or shipped name (default: robust)")
        p.add_argument("--processes", type=int, default=1, help="fingerprint workers")
        p.add_argument("--out", required=True, help="extended XYZ file with the per-atom labels of every method")

    @staticmethod
    def run(args) -> int:
        """One level of the local-map comparison on a synthetic polycrystal: the CNN's map, PTM and
        adaptive CNA per atom, written as extended XYZ."""
        from ase.io import write

        from ..evaluation import local_map_comparison
        from ..io import atomic_path

        sample = local_map_comparison(args.atoms, args.seed, args.level, args.model, processes=args.processes)
        with atomic_path(args.out) as tmp:
            write(tmp, sample, format="extxyz")
        info = sample.info
        print(f"{args.out}: {len(sample)} atoms, {info['windows']} windows; CNN {info['cnn_s']:.1f} s, PTM "
              f"{info['ptm_s']:.1f} s, a-CNA {info['acna_s']:.1f} s", file=sys.stderr)
        return 0
