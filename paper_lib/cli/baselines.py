from __future__ import annotations

import time


class CLICommand:
    """spglib and PTM predictions for a structure database"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--config", required=True, help="preset (classes, baseline sample)")
        p.add_argument("--db", required=True, help="structure database (ASE db)")
        p.add_argument("--out", required=True, help="per-structure prediction CSV to write")
        p.add_argument("--methods", nargs="+", help="subset of the methods (default all: spglib_1e-1 .. "
                                                      "spglib_1e-4, ptm)")
        p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")

    @staticmethod
    def run(args) -> int:
        """spglib and PTM predictions for the structures of a database (per structure and method, CSV)."""
        from .. import config
        from ..baselines import METHODS, database_predictions
        from .common import write_csv

        preset = config.load(args.config)
        start = time.perf_counter()
        table = database_predictions(args.db, preset, args.methods, args.processes)
        write_csv(table, args.out)
        elapsed = time.perf_counter() - start
        n_structures = table["row_id"].nunique()
        print(f"{args.out}: {n_structures} structures x {len(tuple(args.methods or METHODS))} methods in "
              f"{elapsed:.1f} s ({n_structures / max(elapsed, 1e-9):.1f} structures/s, {args.processes} process(es))")
        return 0
