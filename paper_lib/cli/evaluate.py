from __future__ import annotations

import sys

from .common import check_names, write_csv, write_summary


class CLICommand:
    """accuracy per defect level of a model on fingerprint files"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--model", required=True, help="model file (.keras)")
        p.add_argument("--fingerprints", nargs="+", required=True, help="fingerprint files (HDF5)")
        p.add_argument("--out", required=True, help="accuracy CSV to write (method, defect, level, n, accuracy)")
        p.add_argument("--method", default="cnn", help="method name in the table (default cnn)")
        p.add_argument("--confusion", action="store_true", help="also write confusion matrices (CSV)")
        p.add_argument("--predictions", help="also write the per-structure predictions (CSV)")

    @staticmethod
    def run(args) -> int:
        """Accuracy per defect kind and level (CSV), per-class recall, confusion matrices and
        (optionally) the per-structure predictions, of the structures the model did not train on."""
        import warnings

        from ..evaluation import TrainingDataWarning, model_predictions, summarise
        from ..io import read_fingerprints
        from ..model import load_model

        loaded = load_model(args.model)
        check_names([args.method], "method name", "--method")
        for path in args.fingerprints:     # every file and every name checked before any work
            meta = read_fingerprints(path, with_fingerprints=False)
            check_names(meta["defect"], "defect name", f"{path}: dataset 'defect'")
        with warnings.catch_warnings():
            warnings.simplefilter("always", TrainingDataWarning)
            warnings.showwarning = _show_warning
            predictions = model_predictions(loaded, args.fingerprints, args.method, progress=True)
        summary = summarise(predictions, loaded.classes)
        write_summary(summary, args.out, args.confusion, f"recall_{args.method}.csv")
        if args.predictions:
            write_csv(predictions, args.predictions)
        print(summary.accuracy.to_string(index=False))
        return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one line on stderr, ``warning: ...``, beside the progress bar."""
    from tqdm import tqdm

    tqdm.write(f"warning: {message}", file=sys.stderr)
