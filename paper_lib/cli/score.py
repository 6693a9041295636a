from __future__ import annotations

from pathlib import Path

from .common import check_names, write_summary


class CLICommand:
    """accuracy table of every method from per-structure predictions"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("predictions", nargs="+", help="prediction CSVs (evaluate --predictions, baselines)")
        p.add_argument("--config", required=True, help="preset (classes)")
        p.add_argument("--out", required=True, help="accuracy CSV to write (method, defect, level, n, accuracy)")
        p.add_argument("--confusion", action="store_true", help="also write confusion matrices (CSV)")
        p.add_argument("--plot", action="store_true",
                       help="also draw accuracy against vacancies and displacements (PNG, PDF) beside --out")

    @staticmethod
    def run(args) -> int:
        """Accuracy table (all methods), per-class recall and confusion matrices from prediction tables."""
        import pandas as pd

        from .. import config
        from ..evaluation import summarise

        preset = config.load(args.config)
        tables = []
        for path in args.predictions:
            if not Path(path).exists():
                raise FileNotFoundError(f"{path}: no such prediction table")
            try:
                table = pd.read_csv(path, keep_default_na=False, na_values=[""])
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}: not a readable prediction table ({str(exc).strip()})") from None
            for column, what in (("method", "method name"), ("defect", "defect name")):
                if column in table:
                    check_names(table[column], what, f"{path}: column '{column}'")
            tables.append(table)
        summary = summarise(pd.concat(tables, ignore_index=True), preset.classes)
        write_summary(summary, args.out, args.confusion, "recall.csv")
        if args.plot:
            import matplotlib

            matplotlib.use("Agg")
            from ..plotting import save_accuracy_curves

            save_accuracy_curves(summary.accuracy, Path(args.out).parent)
        print(summary.accuracy.pivot_table(index=["defect", "level"], columns="method", values="accuracy")
              .to_string(float_format=lambda x: f"{x:.1f}"))
        return 0
