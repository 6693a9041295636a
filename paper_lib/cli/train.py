from __future__ import annotations

import sys
from pathlib import Path


class CLICommand:
    """train the network on pristine fingerprints"""

    @staticmethod
    def add_arguments(p):
        from ..model import TRAINING   # numbers only: TensorFlow is imported when a model is used

        p.add_argument("--config", required=True, help="preset (classes, seed)")
        p.add_argument("--fingerprints", nargs="+", required=True, help="fingerprint files (HDF5)")
        p.add_argument("--out", required=True, help="model file to write (.keras; .json beside it)")
        p.add_argument("--history", help="per-epoch history CSV (default: NAME.history.csv beside NAME.keras)")
        p.add_argument("--force", action="store_true",
                       help="replace a model, its .json and its history that already exist (default: refuse)")
        p.add_argument("--seed", type=int, help="training seed (default: the preset's)")
        p.add_argument("--split-seed", type=int,
                       help="seed of the validation split alone (default: the training seed); networks trained "
                            "with several seeds and one split seed share their held-out structures")
        p.add_argument("--epochs", type=int, default=TRAINING["epochs"],
                       help=f"epochs (default {TRAINING['epochs']}, the paper's)")
        p.add_argument("--augment", nargs="+", metavar="FILE.h5",
                       help="fingerprints of displaced training copies (from `augment`) added to the training "
                            "set; copies of validation structures are left out")

    @staticmethod
    def run(args) -> int:
        """Train the network on the pristine fingerprints of a preset; write the model and its history."""
        from .. import config
        from ..io import atomic_path, load_fingerprint_set
        from ..model import DEFAULT_FINGERPRINT, history_path, metadata_path, save_model, train

        preset = config.load(args.config)
        model_json = metadata_path(args.out)
        history = Path(args.history) if args.history else history_path(args.out)
        existing = [p for p in (Path(args.out), model_json, history) if p.exists()]
        if existing and not args.force:
            raise ValueError(f"{existing[0]}: already exists; train writes {args.out}, {model_json.name} and "
                             f"{history.name}: pass --force to replace them, or choose another --out")
        data = load_fingerprint_set(args.fingerprints, defect="pristine")
        if len(data["label"]) == 0:
            raise ValueError("the fingerprint files hold no pristine structure to train on")
        params = {**DEFAULT_FINGERPRINT, "target_atoms": preset.target_atoms, **data["fingerprint_params"]}
        if params["preprocessing"] != preset.preprocessing:
            raise ValueError(f"{', '.join(args.fingerprints)}: made with the {params['preprocessing']} "
                             f"pre-processing, but {args.config} asks for {preset.preprocessing}")
        if params.get("intensity", "linear") != preset.intensity:
            raise ValueError(f"{', '.join(args.fingerprints)}: made on the {params.get('intensity', 'linear')} "
                             f"intensity scale, but {args.config} asks for {preset.intensity}")
        augment = None
        if args.augment:
            extra = load_fingerprint_set(args.augment)
            augment = {"fingerprints": extra["fingerprints"], "labels": extra["label"], "sids": extra["sid"],
                       "source": extra["source"], "fingerprint_params": extra["fingerprint_params"]}
        with atomic_path(history) as history_tmp:     # the history appears with the model, not before
            result = train(data["fingerprints"], data["label"], preset.classes,
                           seed=args.seed if args.seed is not None else preset.seed, fingerprint_params=params,
                           epochs=args.epochs, source=data["source"], sids=data["sid"],
                           dataset_digest=data["dataset_digest"], augment=augment, split_seed=args.split_seed,
                           history_csv=history_tmp,    # Keras's bar on a terminal, a line per epoch in logs:
                           verbose=1 if sys.stdout.isatty() else 2)
            result.metadata["training_data"]["preset"] = preset.name
            result.metadata["training_data"]["preset_digest"] = preset.digest()
            save_model(result, args.out)
        last = {k: v[-1] for k, v in result.history.items()}
        print(f"{args.out}: trained on {result.metadata['training_data']['n_train']} fingerprints "
              f"in {result.metadata['training']['seconds']:.0f} s; last epoch "
              + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
        return 0
