from __future__ import annotations

import sys

from .common import print_now, structure_format


class CLICommand:
    """classify structures in files (any format ASE reads, or pymatgen's)"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("paths", nargs="+", help="structure files; every frame is classified")
        p.add_argument("--model", help="model file (.keras), or a shipped model by name: robust (the default; the "
                                       "paper's seven classes), extended (30 prototypes, elements and binaries) or "
                                       "paper2018")
        p.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
        p.add_argument("--csv", metavar="FILE", help="also write a CSV file (source, index, label, probability, "
                                                     "one probability per class, error); it appears when complete")
        p.add_argument("--format", type=structure_format,
                       help="ASE format name, when the file name does not tell (e.g. extxyz, cif, vasp), or "
                            "pymatgen to read with pymatgen (its JSON files are recognised without it)")
        p.add_argument("--jobs", "-j", "--processes", dest="jobs", type=int, default=1,
                       help="worker processes for the fingerprints (default 1; --processes is the same)")
        p.add_argument("--progress", action="store_true",
                       help="progress bar on stderr even when it is not a terminal (default: only on a terminal)")

    @staticmethod
    def run(args) -> int:
        """Classify every frame of every file as it is read: a table or JSON lines on stdout (and
        optionally a CSV file), one row per structure as soon as its chunk is done; bad files and
        frames reported on stderr; exit 1 if any failed."""
        import contextlib
        import json

        from tqdm import tqdm

        from ..io import csv_rows, iter_structure_file
        from ..model import Classification, classify_iter, limit_tensorflow_threads, load_model

        if args.jobs > 1:     # the fingerprint workers take the cores; the network one thread beside them
            limit_tensorflow_threads(1)
        try:
            loaded = load_model(args.model)
        except ValueError as exc:      # stdout holds results only
            print(f"error: {exc}", file=sys.stderr)
            return 1

        def frames():
            for path in args.paths:
                for index, atoms in iter_structure_file(path, args.format):
                    yield str(path), index, atoms

        width = max([len(str(p)) + 5 for p in args.paths] + [9])    # "path#index" up to 4 digits
        n, failed = 0, 0
        with contextlib.ExitStack() as stack:
            write_csv = (stack.enter_context(csv_rows(args.csv, Classification.csv_header(loaded.classes)))
                         if args.csv else None)
            if not args.json:
                print_now(f"{'structure':{width}s}  {'class':8s} {'prob.':>6s} {'unc.':>6s}  "
                          "second choice, or why unknown")
            for result in classify_iter(frames(), loaded, processes=args.jobs,
                                        progress=True if args.progress else None):
                n += 1
                print_now(json.dumps(result.as_dict()) if args.json else table_row(result, width))
                if write_csv:
                    write_csv(result.as_row(loaded.classes))
                if result.error is not None:
                    failed += 1
                    tqdm.write(f"error: {result.error}", file=sys.stderr)
        if args.csv:
            print(f"{args.csv}: {n} row(s)", file=sys.stderr)
        if failed:
            print(f"{failed} of {n} item(s) failed", file=sys.stderr)
        return 1 if failed else 0


def table_row(result, width: int) -> str:
    """One line of the table ``classify`` prints: where, class, probability, uncertainty, and the
    second choice or why the class is unknown (``width``: of the first column)."""
    where = f"{result.source}#{result.index}"
    if result.error is not None:
        return f"{where:{width}s}  error: {result.error}"
    if not result.probabilities:      # unknown: no lattice
        return f"{where:{width}s}  {result.label:8s} {'-':>6s} {'-':>6s}  {result.reason}"
    ranked = sorted(result.probabilities.items(), key=lambda kv: -kv[1])
    note = (f"{ranked[1][0]} ({ranked[1][1]:.3f})" if result.reason is None
            else f"best {result.best}; {result.reason}")
    spread = "-" if result.uncertainty is None else f"{result.uncertainty:.3f}"
    return f"{where:{width}s}  {result.label:8s} {ranked[0][1]:6.3f} {spread:>6s}  {note}"
