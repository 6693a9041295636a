from __future__ import annotations

import time
from pathlib import Path

from .common import shard


class CLICommand:
    """generate pristine and defective structures (ASE db)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--config", required=True, help="preset file, e.g. config/quick.yaml")
        p.add_argument("--shard", type=shard, default=(0, 1), metavar="K/N",
                       help="generate shard K of N (structure index mod N == K); default all")
        p.add_argument("--out", help="database to write (default results/<preset>/structures.db)")
        p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")

    @staticmethod
    def run(args) -> int:
        """The pristine structures of a shard and their defective variants, into an ASE db."""
        from .. import config
        from ..defects import dataset_rows
        from ..io import write_structures
        from ..paths import Layout

        preset = config.load(args.config)
        k, n = args.shard
        out = Path(args.out) if args.out else Layout(preset.name).results / "structures.db"
        n_pristine = len(range(k, preset.n_pristine, n))
        start = time.perf_counter()
        written = write_structures(out, dataset_rows(preset, k, n, args.processes),
                                   {"dataset_digest": preset.dataset_digest(), "preset": preset.name})
        elapsed = time.perf_counter() - start
        print(f"{out}: {n_pristine} pristine + {written - n_pristine} defective structures "
              f"in {elapsed:.1f} s ({written / max(elapsed, 1e-9):.0f} structures/s, {args.processes} process(es))")
        return 0
