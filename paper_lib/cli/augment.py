from __future__ import annotations

import time
from pathlib import Path


class CLICommand:
    """displaced training copies of the pristine structures (ASE db)"""

    @staticmethod
    def add_arguments(p):
        from ..defects import AUGMENTATION

        p.add_argument("--config", required=True, help="preset (its seed)")
        p.add_argument("--db", required=True, help="structure database holding the pristine structures")
        p.add_argument("--out", required=True, help="database to write")
        p.add_argument("--copies", type=int, default=AUGMENTATION["copies"],
                       help=f"copies per pristine structure (default {AUGMENTATION['copies']})")
        p.add_argument("--max-displacement", type=float, default=AUGMENTATION["max_displacement"],
                       help="largest displacement level in %% of the nearest-neighbour distance, drawn "
                            f"uniformly from 0 (default {AUGMENTATION['max_displacement']:g})")
        p.add_argument("--max-vacancies", type=float, default=0.0,
                       help="also remove a share of each copy's atoms drawn uniformly from 0 to this (%%; "
                            "default 0: displacements only)")
        p.add_argument("--seed", type=int, help="seed (default: the preset's)")

    @staticmethod
    def run(args) -> int:
        """Displaced training copies of every pristine structure of a database (a new ASE db)."""
        from .. import config
        from ..defects import augmented_rows
        from ..io import open_database, read_structures, write_structures
        from ..parallel import progress_bar

        preset = config.load(args.config)
        seed = preset.seed if args.seed is None else args.seed
        start = time.perf_counter()
        total = open_database(args.db).count(defect="pristine")
        pristine = [0]

        def rows():
            for _, atoms, keys in progress_bar(read_structures(args.db, defect="pristine"), total=total,
                                               desc="augment", unit="pristine"):
                pristine[0] += 1
                yield atoms, keys

        written = write_structures(args.out, augmented_rows(rows(), seed, args.copies, args.max_displacement,
                                                            preset.preprocessing, args.max_vacancies))
        if pristine[0] == 0:
            Path(args.out).unlink(missing_ok=True)
            raise ValueError(f"{args.db}: no pristine structure to augment")
        holes = f", 0-{args.max_vacancies:g} % vacancies" if args.max_vacancies > 0 else ""
        print(f"{args.out}: {written} displaced copies (0-{args.max_displacement:g} %{holes}) of {pristine[0]} "
              f"pristine structures in {time.perf_counter() - start:.1f} s")
        return 0
