from __future__ import annotations

import time


class CLICommand:
    """the model on ASE's dcdft crystals with the preset's defects"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--config", required=True, help="preset (defect levels, seed)")
        p.add_argument("--model", help="model file (.keras), or a shipped model by name: robust (the default) or "
                                       "paper2018")
        p.add_argument("--copies", type=int, default=5, help="random realisations per defect level (default 5)")
        p.add_argument("--out", required=True, help="per-structure prediction CSV to write")
        p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")

    @staticmethod
    def run(args) -> int:
        """The model on ASE's dcdft elemental crystals with the preset's defect levels (predictions CSV)."""
        from .. import config
        from ..evaluation import real_crystal_accuracy, real_crystal_predictions
        from ..model import load_model
        from .common import write_csv

        preset = config.load(args.config)
        loaded = load_model(args.model)
        start = time.perf_counter()
        table = real_crystal_predictions(loaded, preset.displacements, preset.vacancies, copies=args.copies,
                                         seed=preset.seed, processes=args.processes)
        write_csv(table, args.out)
        print(real_crystal_accuracy(table, loaded.classes).to_string(index=False))
        print(f"{args.out}: {table['structure'].nunique()} crystals, {len(table)} structures in "
              f"{time.perf_counter() - start:.0f} s")
        return 0
