from __future__ import annotations

import json
from pathlib import Path


class CLICommand:
    """record commit, versions and per-stage times of a run (JSON)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--config", required=True, help="the preset of the run")
        p.add_argument("--benchmarks", required=True, help="folder of Snakemake benchmark TSVs")
        p.add_argument("--cores", type=int, help="cores the run was given")
        p.add_argument("--out", required=True, help="JSON file to write")

    @staticmethod
    def run(args) -> int:
        """Commit, preset digest, package versions and time per stage of a run (JSON)."""
        from .. import config
        from ..io import atomic_path
        from ..provenance import collect

        record = collect(config.load(args.config), args.benchmarks, cores=args.cores)
        with atomic_path(args.out) as tmp:
            Path(tmp).write_text(json.dumps(record, indent=1) + "\n")
        for stage in record["stages"]:
            print(f"{stage['stage']:18s} {stage['jobs']:4d} job(s) {stage['wall_s']:9.1f} s")
        return 0
