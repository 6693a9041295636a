from __future__ import annotations


class CLICommand:
    """fingerprints as PNG images"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("h5", help="fingerprint file (HDF5)")
        p.add_argument("--out", required=True, help="folder for the PNG files")
        p.add_argument("--per-class", type=int, default=1, help="images per class (default 1)")
        p.add_argument("--defect", default="pristine", help="which structures (default pristine)")
        p.add_argument("--gamma", type=float, default=0.5, help="display gamma (default 0.5)")

    @staticmethod
    def run(args) -> int:
        """PNG images of fingerprints from an HDF5 file: the first ``--per-class`` of each class."""
        from ..io import read_fingerprints
        from ..paths import child, safe_name, slug
        from ..plotting import save_fingerprint_png

        data = read_fingerprints(args.h5)
        safe_name(args.defect, "defect name", "--defect")
        labels = sorted(set(data["label"]))
        for label in labels:          # every name checked before anything is written
            safe_name(slug(label), "class label", f"{args.h5}: dataset 'label'")
        written = 0
        for label in labels:
            chosen = [i for i, (lab, defect) in enumerate(zip(data["label"], data["defect"]))
                      if lab == label and defect == args.defect][: args.per_class]
            for i in chosen:
                name = f"{slug(label)}_{args.defect}_row{int(data['row_id'][i])}.png"
                save_fingerprint_png(data["fingerprints"][i],
                                     child(args.out, name, what="file name", source=str(args.h5)), gamma=args.gamma)
                written += 1
        print(f"{args.out}: {written} PNG file(s)")
        return 0
