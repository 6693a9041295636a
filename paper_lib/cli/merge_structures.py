from __future__ import annotations


class CLICommand:
    """concatenate shard databases into one"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("shards", nargs="+", help="shard databases, in order")
        p.add_argument("--out", required=True, help="database to write")

    @staticmethod
    def run(args) -> int:
        from ..io import merge_structures

        n = merge_structures(args.out, args.shards)
        print(f"{args.out}: {n} structures from {len(args.shards)} shard(s)")
        return 0
