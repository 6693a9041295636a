from __future__ import annotations


class CLICommand:
    """concatenate fingerprint shards into one file"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("shards", nargs="+")
        p.add_argument("--out", required=True)

    @staticmethod
    def run(args) -> int:
        from ..io import merge_fingerprints

        n = merge_fingerprints(args.out, args.shards)
        print(f"{args.out}: {n} fingerprints from {len(args.shards)} shard(s)")
        return 0
