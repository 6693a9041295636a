from __future__ import annotations

import sys
import time

from .common import add_fingerprint_options, shard


class CLICommand:
    """diffraction fingerprints of a structure database (HDF5)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--db", required=True, help="structure database (ASE db)")
        p.add_argument("--shard", type=shard, default=(0, 1), metavar="K/N",
                       help="fingerprint block K of N of the database's rows; default all")
        p.add_argument("--out", required=True, help="HDF5 file to write")
        p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
        p.add_argument("--backend", choices=("numba", "tensorflow", "auto"), default="numba",
                       help="numba CPU kernel (default), tensorflow (GPU if present), or auto "
                            "(tensorflow when a GPU is present)")
        add_fingerprint_options(p)

    @staticmethod
    def run(args) -> int:
        """Fingerprints of a shard of a structure database, written to HDF5."""
        from ..diffraction import database_fingerprints
        from ..io import write_fingerprints

        start = time.perf_counter()
        result = database_fingerprints(args.db, args.shard, processes=args.processes, backend=args.backend,
                                       progress=True, preprocessing=args.preprocessing,
                                       target_atoms=args.target_atoms, mask_inner_px=args.mask_inner_px,
                                       mask_outer_px=args.mask_outer_px, z_shift=args.z_shift,
                                       angle_deg=args.angle_deg, intensity=args.intensity)
        write_fingerprints(args.out, result.fingerprints, result.meta, result.failed, result.attrs)
        elapsed = time.perf_counter() - start
        n = len(result.meta["row_id"])
        print(f"{args.out}: {n} fingerprints, {len(result.failed)} failed, {elapsed:.1f} s "
              f"({n / max(elapsed, 1e-9):.1f} fingerprints/s on {args.processes} process(es))")
        for _, message in result.failed[:10]:
            print(f"  failed: {message}", file=sys.stderr)
        return 0
