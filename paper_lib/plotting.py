"""Pictures: fingerprints as RGB images (PNG), in the style of the paper's figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def fingerprint_rgb(fp: np.ndarray, scale: int = 4, gamma: float = 1.0) -> np.ndarray:
    """(64 s, 64 s, 3) uint8 image of a (64, 64, 3) fingerprint in [0, 1], each pixel s x s.

    Red, green and blue are the rotations about x, y and z. Row 0 is the top of the image, which
    is detector y = -31.5 px (the array's own [y, x] order, as the paper shows it).
    ``gamma`` < 1 brightens weak peaks for the eye; the data are not changed.
    """
    fp = np.asarray(fp, dtype=np.float64)
    if fp.ndim != 3 or fp.shape[2] != 3:
        raise ValueError(f"a fingerprint has shape (H, W, 3), got {fp.shape}")
    image = np.clip(fp, 0.0, 1.0) ** gamma
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    return np.round(image * 255).astype(np.uint8)


def save_fingerprint_png(fp: np.ndarray, path: str | Path, scale: int = 4, gamma: float = 1.0) -> Path:
    """Write a fingerprint as an RGB PNG (see :func:`fingerprint_rgb`); returns the path."""
    import matplotlib.image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, fingerprint_rgb(fp, scale, gamma))
    return path


def repository_root(start: str | Path = ".") -> Path:
    """The folder holding the Snakefile and config/, searched upward from ``start`` (notebooks run
    from ``notebooks/`` in JupyterLab and from the root under papermill)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "Snakefile").exists() and (folder / "config").is_dir():
            return folder
    raise FileNotFoundError(f"no repository root (a folder with Snakefile and config/) above {here}")


def save_figure(fig, folder: str | Path, name: str) -> list[Path]:
    """Save a matplotlib figure as ``name.png`` (150 dpi) and ``name.pdf`` in ``folder``, each
    written under a temporary name and renamed when complete."""
    from .io import atomic_path
    from .paths import child

    paths = [child(folder, f"{name}.png", what="figure name"), child(folder, f"{name}.pdf", what="figure name")]
    for path, dpi in zip(paths, (150, None)):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix[1:])
    return paths


def fingerprint_gallery(fingerprints, titles, columns: int = 7, gamma: float = 0.5):
    """A row (or grid) of fingerprints as RGB images with titles; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(fingerprints)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, fp, title in zip(axes.ravel(), fingerprints, titles):
        ax.imshow(fingerprint_rgb(fp, scale=1, gamma=gamma), interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def accuracy_curves(table, defect: str, xlabel: str):
    """Accuracy (%) against defect level for every method in an ``accuracy.csv`` table.

    Each curve starts at its method's pristine accuracy (level 0); the networks are drawn solid (the
    paper's CNN in black), the baselines dashed; a level evaluated on fewer structures shows its ``n`` in the legend.
    A table with ``accuracy_sd`` and ``seeds`` (:func:`paper_lib.evaluation.seed_spread`) draws the
    mean over seeds with a band of +/- one standard deviation.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for method, group in table.groupby("method"):
        rows = group[group["defect"].isin([defect, "pristine"])].sort_values("level")
        if not (rows["defect"] == defect).any():
            continue
        n = rows.loc[rows["defect"] == defect, "n"]
        label = method if method == "cnn" else f"{method} (n≈{int(n.median())}/level)"
        if method == "cnn":
            style = dict(lw=2.2, color="k", zorder=3)
        elif method.startswith("cnn"):                    # other networks: solid, in colour
            style = dict(lw=1.6)
        else:                                             # the symmetry finders: dashed
            style = dict(lw=1.2, ls="--")
        seeds = int(rows["seeds"].max()) if "seeds" in rows else 1
        if seeds > 1:
            label += f", mean ± s.d. of {seeds} seeds"
        line, = ax.plot(rows["level"], rows["accuracy"], marker="o", ms=3.5, label=label, **style)
        if seeds > 1:
            ax.fill_between(rows["level"], rows["accuracy"] - rows["accuracy_sd"], rows["accuracy"] + rows["accuracy_sd"],
                            color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict, normalise: bool = True):
    """Heat maps of confusion matrices (``title -> DataFrame`` of counts, rows true, columns
    predicted), side by side; ``normalise`` shows each row in % of its true class."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 3.9), squeeze=False)
    for ax, (title, counts) in zip(axes[0], matrices.items()):
        counts = counts.loc[counts.sum(axis=1) > 0]
        shown = 100 * counts.div(counts.sum(axis=1), axis=0) if normalise else counts
        sns.heatmap(shown, ax=ax, annot=True, fmt=".0f", cmap="Blues", vmin=0,
                    vmax=100 if normalise else None, cbar=False, annot_kws={"fontsize": 7})
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def response_rgb(response, floor: float = 1e-12):
    """A positive (64, 64, 3) response map as an RGB image, scaled to its own maximum."""
    import numpy as np

    response = np.maximum(np.asarray(response, np.float64), 0)
    return np.clip(response / max(float(response.max()), floor), 0, 1)


def response_map_figure(fingerprint, layers, title: str = "", gamma: float = 0.5):
    """The paper-style figure for one structure: the fingerprint, then for every conv layer (a
    list of ``interpret.ResponseMaps``) its top-k filter maps and their sum (each panel scaled to
    its own maximum; colour channels as in the fingerprint)."""
    import matplotlib.pyplot as plt

    k = max(len(r.filters) for r in layers)
    fig, axes = plt.subplots(len(layers), k + 2, figsize=(1.45 * (k + 2), 1.5 * len(layers)), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    axes[0, 0].imshow(fingerprint_rgb(fingerprint, scale=1, gamma=gamma), interpolation="nearest")
    axes[0, 0].set_title(title or "fingerprint", fontsize=8)
    for row, maps in enumerate(layers):
        axes[row, 1].set_ylabel(maps.layer, fontsize=8)
        axes[row, 1].set_frame_on(True)
        for j, (f, m) in enumerate(zip(maps.filters, maps.maps)):
            axes[row, 1 + j].imshow(response_rgb(m), interpolation="nearest")
            axes[row, 1 + j].set_title(f"filter {f}", fontsize=6)
        axes[row, k + 1].imshow(response_rgb(maps.total), interpolation="nearest")
        axes[row, k + 1].set_title("sum", fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def class_maps_figure(fingerprints, titles, layer_sums, class_maps, gamma: float = 0.5):
    """One row per structure: the fingerprint, each conv layer's summed map, and the map of its
    class (``layer_sums``: per structure a list of ``interpret.ResponseMaps``; ``class_maps``: per
    structure a (64, 64, 3) map)."""
    import matplotlib.pyplot as plt

    n_layers = len(layer_sums[0])
    fig, axes = plt.subplots(len(fingerprints), n_layers + 2,
                             figsize=(1.4 * (n_layers + 2), 1.45 * len(fingerprints)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, (fp, title, layers, cmap) in enumerate(zip(fingerprints, titles, layer_sums, class_maps)):
        axes[row, 0].imshow(fingerprint_rgb(fp, scale=1, gamma=gamma), interpolation="nearest")
        axes[row, 0].set_title(title, fontsize=7)
        for j, maps in enumerate(layers):
            axes[row, 1 + j].imshow(response_rgb(maps.total), interpolation="nearest")
            if row == 0:
                axes[row, 1 + j].set_title(maps.layer, fontsize=7)
        axes[row, -1].imshow(response_rgb(cmap), interpolation="nearest")
        if row == 0:
            axes[row, -1].set_title("class map", fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def parameter_histograms(pristine, columns=("c_over_a", "alpha", "z")):
    """One histogram per (prototype, free parameter) present in a table of pristine records."""
    import matplotlib.pyplot as plt

    panels = [(prototype, column) for prototype, group in pristine.groupby("prototype")
              for column in columns if column in group and group[column].notna().any()]
    if not panels:
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.text(0.5, 0.5, "no free parameters", ha="center")
        return fig
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    labels = {"c_over_a": "c/a", "alpha": "rhombohedral angle (deg)", "z": "internal z"}
    for ax, (prototype, column) in zip(axes.ravel(), panels):
        values = pristine.loc[pristine["prototype"] == prototype, column].dropna()
        ax.hist(values, bins=20, color="0.35")
        ax.set_title(prototype, fontsize=9)
        ax.set_xlabel(labels.get(column, column), fontsize=8)
    fig.tight_layout()
    return fig


def reliability_diagram(bins: list[dict], ece: float, title: str = ""):
    """Accuracy against confidence in equal-width bins (:func:`paper_lib.uncertainty.reliability`),
    with the diagonal of perfect calibration; each bin's count at its foot, ECE in the title."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    width = 0.9 * (bins[0]["high"] - bins[0]["low"])
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    ax.bar(centres, [b["accuracy"] for b in bins], width=width, color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="k", ms=3,
            label="at the bin's mean confidence")
    for c, b in zip(centres, bins):
        if b["n"]:
            ax.text(c, 0.02, str(b["n"]), rotation=90, fontsize=6, ha="center", va="bottom")
    ax.set(xlabel="confidence (probability of the class given)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"{title}{': ' if title else ''}ECE {ece:.4f}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


#: colours of the classes (and unknown) in the local maps
LOCAL_COLOURS = {"bcc": "#1f77b4", "bct_139": "#aec7e8", "bct_141": "#9467bd", "diam": "#2ca02c",
                 "fcc": "#d62728", "hex/rh": "#ff7f0e", "sc": "#8c564b", "unknown": "#bbbbbb"}


def local_slice_maps(samples: dict, methods=("truth", "cnn", "ptm", "acna"), thickness: float = 3.0,
                     titles=None):
    """Rows of slice maps, one row per sample (name -> Atoms with per-atom label arrays), one panel per
    method: the atoms within ``thickness`` Angstrom of the box's mid-plane z = L/2, at their x, y
    (Angstrom), coloured by label (:data:`LOCAL_COLOURS`)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    titles = titles or {"truth": "truth", "cnn": "CNN (ours)", "ptm": "PTM", "acna": "a-CNA"}
    fig, axes = plt.subplots(len(samples), len(methods), figsize=(3.1 * len(methods), 3.1 * len(samples)),
                             squeeze=False, sharex=True, sharey=True)
    for row, (name, atoms) in enumerate(samples.items()):
        z = atoms.positions[:, 2]
        mid = atoms.cell[2, 2] / 2
        slab = np.abs(z - mid) < thickness / 2
        for col, method in enumerate(methods):
            ax = axes[row, col]
            labels = atoms.arrays[method][slab]
            colours = [LOCAL_COLOURS.get(str(label), "black") for label in labels]
            ax.scatter(atoms.positions[slab, 0], atoms.positions[slab, 1], c=colours, s=2, linewidths=0)
            ax.set_aspect("equal")
            if row == 0:
                ax.set_title(titles.get(method, method))
            if col == 0:
                ax.set_ylabel(f"{name}\ny (Å)")
            if row == len(samples) - 1:
                ax.set_xlabel("x (Å)")
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=k) for k, c in LOCAL_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def local_accuracy_figure(table):
    """Interior-atom accuracy (%) of each method against the defect level (a categorical axis), from a
    table with columns level, method, interior (fraction)."""
    import matplotlib.pyplot as plt

    levels = list(dict.fromkeys(table["level"]))
    fig, ax = plt.subplots(figsize=(6, 3.2))
    styles = {"cnn": ("o", "-"), "ptm": ("s", "--"), "acna": ("^", ":")}
    for method, part in table.groupby("method", sort=False):
        part = part.set_index("level").reindex(levels)
        marker, line = styles.get(method, ("x", "-"))
        ax.plot(range(len(levels)), 100 * part["interior"], marker=marker, linestyle=line, label=method)
    ax.set_xticks(range(len(levels)), [lv.replace("_", " ") for lv in levels], rotation=15)
    ax.set_ylabel("interior atoms right (%)")
    ax.set_ylim(0, 102)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def local_boundary_figure(profiles: dict):
    """Accuracy (%) against the distance to the nearest grain boundary (Angstrom), one line per
    (sample, method) in ``profiles`` (name -> table of :func:`paper_lib.evaluation.accuracy_by_boundary_distance`)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, profile in profiles.items():
        ax.plot(profile["distance"], 100 * profile["accuracy"], marker=".", label=name)
    ax.set_xlabel("distance to the nearest grain boundary (Å)")
    ax.set_ylabel("atoms right (%)")
    ax.set_ylim(0, 102)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def deletion_figure(table, group: str = "all"):
    """The deletion test (:func:`paper_lib.interpret.deletion_test`'s table): accuracy (%) and the
    true class's mean probability against the number of deleted pixels k (of 12,288; symmetric log
    axis, k = 0 the intact fingerprints), for the fingerprints of ``group`` (a class, or ``all``).
    Each map in its own colour, solid from the trained network and dashed from the untrained one;
    the brightest pixels in black, random pixels in grey (their range over the draws)."""
    import matplotlib.pyplot as plt

    rows = table[table["class"] == group]
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    for ax, column, label, scale in ((axes[0], "accuracy", "accuracy (%)", 100),
                                     (axes[1], "probability", "probability of the true class", 1)):
        random = rows[rows["map"] == "random"].groupby("k")[column].agg(["min", "max", "mean"])
        if len(random):
            ax.fill_between(random.index, scale * random["min"], scale * random["max"], color="0.8")
            ax.plot(random.index, scale * random["mean"], color="0.55", label="random pixels")
        bright = rows[rows["map"] == "brightest pixels"]
        ax.plot(bright["k"], scale * bright[column], color="k", linestyle=":", label="brightest pixels")
        others = [m for m in dict.fromkeys(rows["map"]) if m not in ("random", "brightest pixels")]
        for i, name in enumerate(others):
            for network, style in (("trained", "-"), ("untrained", "--")):
                line = rows[(rows["map"] == name) & (rows["network"] == network)]
                if len(line):
                    ax.plot(line["k"], scale * line[column], color=colours(i % 10), linestyle=style,
                            marker="." if network == "trained" else None,
                            label=f"{name}" + (" (untrained)" if network == "untrained" else ""))
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("pixels deleted (k)")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02 * scale)
    n = int(rows["n"].iloc[0]) if len(rows) else 0
    axes[0].set_title(f"{group}: {n} fingerprints", fontsize=9)
    axes[1].legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


def saliency_figure(fingerprints, titles, true_maps, other_maps, other_titles, gamma: float = 0.5):
    """Class-specific maps, one row per structure: the fingerprint; gradient x input of its true
    class (``true_maps``, (64, 64, 3) each, signed), its positive part (the pixels that speak for the
    class) and its negative part (against); and the positive part of another class's map
    (``other_maps``, titled ``other_titles``, e.g. the runner-up class). Each panel is scaled to its
    own maximum; colours are the fingerprint's channels."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(fingerprints), 4, figsize=(6.0, 1.5 * len(fingerprints)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, (fp, title, own, other, other_title) in enumerate(zip(fingerprints, titles, true_maps, other_maps,
                                                                   other_titles)):
        own = np.asarray(own, np.float64)
        panels = [(fingerprint_rgb(fp, scale=1, gamma=gamma), title),
                  (response_rgb(own), f"for {title}"), (response_rgb(-own), f"against {title}"),
                  (response_rgb(other), f"for {other_title}")]
        for ax, (image, text) in zip(axes[row], panels):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(text, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig
