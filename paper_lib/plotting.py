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


#: accuracies measured on fewer structures than this are drawn with open markers
FEW_STRUCTURES = 100

#: line style and marker of the methods the workflow scores (others get the next free pair)
METHOD_STYLES = {
    "cnn": dict(color="k", ls="-", marker="o", lw=2.2, zorder=4),
    "cnn_dcdft": dict(color="tab:blue", ls="-", marker="D", lw=1.5, zorder=3),
    "cnn_augmented": dict(color="tab:green", ls="-", marker="P", lw=1.8, zorder=3),
    "ptm": dict(color="tab:purple", ls="--", marker="s", lw=1.3),
    "spglib_1e-1": dict(color="tab:red", ls="--", marker="v", lw=1.3),
    "spglib_1e-2": dict(color="tab:orange", ls="-.", marker="^", lw=1.3),
    "spglib_1e-3": dict(color="tab:brown", ls=":", marker="<", lw=1.6),
    "spglib_1e-4": dict(color="tab:olive", ls=(0, (5, 1, 1, 1, 1, 1)), marker=">", lw=1.3),
}
_SPARE_STYLES = [dict(color=c, ls=ls, marker=m, lw=1.3) for c, ls, m in
                 (("tab:cyan", "-", "X"), ("tab:pink", "--", "*"), ("tab:gray", "-.", "h"), ("teal", ":", "p"))]


def curve_table(table, defect: str):
    """The rows of an ``accuracy.csv`` table (or its :func:`paper_lib.evaluation.seed_spread`) that
    one accuracy curve shows: each method's pristine row (level 0) and its rows of ``defect``, seeds
    folded into mean (``accuracy``, %), ``accuracy_sd`` (%, NaN for one seed) and ``seeds``, with the
    Wilson 95 % interval of each accuracy over its ``n`` structures (``low``, ``high``, %). Methods
    without a row of ``defect`` are left out."""
    from .evaluation import seed_spread, wilson_interval

    if "seeds" not in table:
        table = seed_spread(table)
    rows = table[table["defect"].isin([defect, "pristine"])].copy()
    shown = set(rows.loc[rows["defect"] == defect, "method"])
    rows = rows[rows["method"].isin(shown)].sort_values(["method", "level"]).reset_index(drop=True)
    rows.loc[rows["defect"] == "pristine", "level"] = 0.0
    right = np.round(rows["accuracy"].to_numpy() / 100 * rows["n"].to_numpy())
    low, high = wilson_interval(right, rows["n"].to_numpy())
    # the interval holds k/n; the accuracy as written is k/n rounded, so keep it inside
    rows["low"] = np.minimum(100 * low, rows["accuracy"])
    rows["high"] = np.maximum(100 * high, rows["accuracy"])
    return rows


def coinciding_curves(table, defect: str, tolerance: float = 0.05) -> list[str]:
    """Where the curves of :func:`accuracy_curves` lie on top of each other, as phrases: first the
    methods whose accuracies agree within ``tolerance`` (percentage points) at every level, then,
    level by level, the other methods that meet there and at what accuracy (%). Levels with the same
    meeting are listed together. Empty when no two curves meet."""
    rows = curve_table(table, defect)
    wide = rows.pivot_table(index="level", columns="method", values="accuracy")
    methods = list(wide.columns)
    everywhere: list[list[str]] = []
    for method in methods:
        for group in everywhere:
            if (np.abs(wide[group[0]] - wide[method]) <= tolerance).all():
                group.append(method)
                break
        else:
            everywhere.append([method])
    phrases = [f"{_and(group)} at every level" for group in everywhere if len(group) > 1]
    meetings: dict[tuple, list] = {}
    for level, values in wide.iterrows():
        values = values.dropna().sort_values()
        cluster: list = []
        for method, value in list(values.items()) + [(None, None)]:
            if method is not None and cluster and value - cluster[-1][1] <= tolerance:
                cluster.append((method, value))
                continue
            names = tuple(sorted(m for m, _ in cluster))
            if len(names) > 1 and not any(set(names) <= set(g) for g in everywhere):
                key = (names, round(float(np.mean([v for _, v in cluster])), 1))
                meetings.setdefault(key, []).append(level)
            cluster = [(method, value)]
    for (names, value), levels in sorted(meetings.items(), key=lambda item: min(item[1])):
        phrases.append(f"{_and(names)} at {_levels_text(levels)} ({value:g} %)")
    return phrases


def _and(names) -> str:
    """``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _levels_text(levels) -> str:
    """``pristine, 0.6 %, 1 %``-style list of levels (%; 0 is pristine)."""
    return ", ".join("pristine" if level == 0 else f"{level:g} %" for level in levels)


def accuracy_curves(table, defect: str, xlabel: str, categorical: bool = True, caption: bool = True):
    """Accuracy (%) against defect level for every method in an ``accuracy.csv`` table.

    ``table``: ``accuracy.csv`` as written (a method's further seeds as ``NAME_seed<S>`` rows) or
    folded by :func:`paper_lib.evaluation.seed_spread`. Each curve starts at its method's pristine
    accuracy (level 0). ``categorical``: the levels (%, spanning 0.1-20 % for displacements) are
    equally spaced ticks rather than a linear axis. Every method has its own colour, line style and
    marker, and the methods are shifted sideways by a little so that coinciding curves stay visible;
    ``caption`` writes under the axes which curves coincide where (:func:`coinciding_curves`).

    The spread drawn: for a method with several seeds, a band of +/- one standard deviation over
    seeds around their mean; for one seed, a bar of the Wilson 95 % interval over the ``n`` test
    structures. An accuracy over fewer than :data:`FEW_STRUCTURES` structures has an open marker.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = curve_table(table, defect)
    methods = list(dict.fromkeys(sorted(rows["method"], key=lambda m: (m != "cnn", not m.startswith("cnn"), m))))
    levels = sorted(set(rows["level"]))
    position = {level: i for i, level in enumerate(levels)} if categorical else {level: level for level in levels}
    width = 0.36 if categorical else 0.0
    offsets = np.linspace(-width / 2, width / 2, len(methods)) if len(methods) > 1 else [0.0]
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    spare = iter(_SPARE_STYLES)
    few_seen, band_seen, bar_seen = False, False, False
    handles, labels = [], []
    for offset, method in zip(offsets, methods):
        part = rows[rows["method"] == method].sort_values("level")
        style = dict(METHOD_STYLES.get(method) or next(spare, dict(color="0.4", ls="-", marker="o", lw=1.0)))
        marker = style.pop("marker")
        x = np.array([position[level] for level in part["level"]]) + offset
        y = part["accuracy"].to_numpy()
        seeds = int(part["seeds"].max())
        n = part.loc[part["defect"] == defect, "n"]
        label = f"{method} (n ≈ {int(n.median()):,}/level" + (f"; mean of {seeds} seeds)" if seeds > 1 else ")")
        line, = ax.plot(x, y, **style)
        handles.append(Line2D([], [], marker=marker, markersize=5, **style))
        labels.append(label)
        few = part["n"].to_numpy() < FEW_STRUCTURES
        face = np.where(few, "white", line.get_color())
        ax.scatter(x, y, marker=marker, s=30, facecolors=face, edgecolors=line.get_color(), linewidths=1.2,
                   zorder=style.get("zorder", 2) + 0.5)
        few_seen |= bool(few.any())
        if seeds > 1:
            sd = part["accuracy_sd"].fillna(0).to_numpy()
            ax.fill_between(x, np.clip(y - sd, 0, 100), np.clip(y + sd, 0, 100), color=line.get_color(),
                            alpha=0.18, lw=0)
            band_seen = True
        else:
            ax.errorbar(x, y, yerr=np.maximum([y - part["low"].to_numpy(), part["high"].to_numpy() - y], 0), fmt="none",
                        ecolor=line.get_color(), elinewidth=0.9, capsize=2, alpha=0.8)
            bar_seen = True
    if categorical:
        ax.set_xticks(range(len(levels)), ["0\n(pristine)" if level == 0 else f"{level:g}" for level in levels])
        ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    if bar_seen:
        handles.append(Line2D([], [], color="0.3", marker="|", ls="none", markersize=10))
        labels.append("bar: Wilson 95 % interval over the n structures")
    if band_seen:
        handles.append(Patch(color="0.3", alpha=0.25))
        labels.append("band: ± 1 s.d. over training seeds")
    if few_seen:
        handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", ls="none"))
        labels.append(f"open marker: fewer than {FEW_STRUCTURES} structures")
    ax.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if caption:
        text = coinciding_curves(table, defect)
        if text:
            import textwrap

            note = textwrap.fill("Curves on top of each other: " + "; ".join(text) + ".", 120)
            fig.text(0.01, 0.0, note, fontsize=6.5, va="top", ha="left", color="0.25")
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: dict, normalise: bool = True, columns: int = 2):
    """Heat maps of confusion matrices (``title -> DataFrame`` of counts, rows true, columns
    predicted), ``columns`` to a row, each with its colour bar. ``normalise`` shows each row in % of
    its true class, every non-empty cell labelled with its percentage (a blank cell holds no
    structure); the row labels give each true class's structure count."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    n = len(matrices)
    columns = min(columns, n)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 4.6 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (title, counts) in zip(axes.ravel(), matrices.items()):
        counts = counts.loc[counts.sum(axis=1) > 0]
        totals = counts.sum(axis=1)
        shown = 100 * counts.div(totals, axis=0) if normalise else counts
        unit = "%" if normalise else ""
        labels = np.where(counts.to_numpy() > 0, shown.map(lambda v: f"{v:.0f}{unit}" if v >= 0.5 or not normalise
                                                          else f"{v:.1f}{unit}").to_numpy(), "")
        sns.heatmap(shown, ax=ax, annot=labels, fmt="", cmap="Blues", vmin=0,
                    vmax=100 if normalise else None, cbar=True, annot_kws={"fontsize": 7},
                    cbar_kws={"label": "% of the true class" if normalise else "structures", "shrink": 0.85},
                    linewidths=0.4, linecolor="0.9")
        ax.set_yticks(np.arange(len(counts)) + 0.5, [f"{c} ({int(t):,})" for c, t in totals.items()], rotation=0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class (structures)")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def confusion_panels(accuracy, cited=(("cnn", "displacements", 10.0),)) -> list[tuple[str, str, float]]:
    """Which confusion matrices the workflow shows, as (method, defect, level %): the ``cited``
    ones that the table has, then the CNN at the strongest displacement and vacancy levels and
    spglib at its loosest tolerance at the weakest vacancy level (each once)."""
    have = {(m, d, float(v)) for m, d, v in accuracy[["method", "defect", "level"]].itertuples(index=False)}
    panels = [(m, d, float(v)) for m, d, v in cited if (m, d, float(v)) in have]
    for method, defect, pick in (("cnn", "displacements", max), ("cnn", "vacancies", max),
                                 ("spglib_1e-1", "vacancies", min)):
        levels = [v for m, d, v in have if m == method and d == defect]
        if levels and (method, defect, pick(levels)) not in panels:
            panels.append((method, defect, pick(levels)))
    return panels


def confusion_title(method: str, defect: str, level: float) -> str:
    """``CNN, δ = 10 %``-style title of a confusion panel."""
    name = {"cnn": "CNN"}.get(method, method.replace("_", " "))
    symbol = {"displacements": "δ", "vacancies": "η"}.get(defect)
    return f"{name}, {symbol} = {level:g} %" if symbol else f"{name}, {defect}"


def read_confusions(folder, panels) -> dict:
    """``title -> counts`` of the confusion matrices ``panels`` ((method, defect, level %)), read
    from ``folder/<method>_<defect>_<level>.csv`` as the workflow writes them."""
    import pandas as pd

    return {confusion_title(*panel): pd.read_csv(Path(folder) / f"{panel[0]}_{panel[1]}_{panel[2]:g}.csv", index_col=0)
            for panel in panels}


def class_counts_figure(counts):
    """Pristine structures per class (``counts``: class -> number) as bars on a logarithmic axis,
    each labelled with its count, so that a class of 4 structures beside one of 3,000 stays visible."""
    import matplotlib.pyplot as plt

    counts = {str(k): int(v) for k, v in dict(counts).items()}
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    bars = ax.bar(list(counts), list(counts.values()), color="0.35")
    for bar, value in zip(bars, counts.values()):
        ax.text(bar.get_x() + bar.get_width() / 2, value * 1.08, f"{value:,}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(0.8, max(counts.values()) * 3)
    ax.set_ylabel("pristine structures (log scale)")
    ax.set_xlabel("class")
    ax.tick_params(axis="x", labelsize=8)
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
    """One histogram per (prototype, free parameter) present in a table of pristine records:
    structures against c/a (dimensionless), the rhombohedral angle (degrees) or the internal
    parameter z (fractional coordinate)."""
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
    labels = {"c_over_a": "c/a (dimensionless)", "alpha": "rhombohedral angle α (°)",
              "z": "internal parameter z (fractional)"}
    for ax, (prototype, column) in zip(axes.ravel(), panels):
        values = pristine.loc[pristine["prototype"] == prototype, column].dropna()
        ax.hist(values, bins=20, color="0.35")
        ax.set_title(prototype, fontsize=9)
        ax.set_xlabel(labels.get(column, column), fontsize=8)
        ax.set_ylabel("structures", fontsize=8)
    fig.tight_layout()
    return fig


def peak_concentration_figure(table):
    """Share of each response map's positive response that lies within 2 px of a diffraction peak,
    per map (the conv layers' summed maps and the class map), for the trained network, the same
    architecture with random weights and uniform noise (whose share is the peaks' area). ``table``:
    ``peak_concentration.csv`` (:func:`paper_lib.interpret.peak_concentration_table`, one row per class
    and map, shares as fractions in [0, 1]); the bars are the means over classes."""
    import matplotlib.pyplot as plt

    overall = table.groupby("map", sort=False)[["trained", "untrained", "random"]].mean()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    x = np.arange(len(overall))
    names = {"trained": "trained network", "untrained": "same network, random weights",
             "random": "uniform noise (the peaks' area)"}
    for j, (column, colour) in enumerate([("trained", "k"), ("untrained", "0.6"), ("random", "0.85")]):
        ax.bar(x + (j - 1) * 0.27, overall[column], width=0.27, color=colour, label=names[column])
    ax.set_xticks(x, overall.index, fontsize=8)
    ax.set_xlabel("response map (summed over a conv layer's top filters, or of the class)")
    ax.set_ylabel("share of positive response\nwithin 2 px of a peak")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def reliability_diagram(bins: list[dict], ece: float, title: str = ""):
    """Accuracy against confidence in equal-width bins (:func:`paper_lib.uncertainty.reliability`),
    with the diagonal of perfect calibration; each bin's count at its foot with the Wilson 95 %
    interval of its accuracy, ECE in the title. Confidence and accuracy are fractions in [0, 1]."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    width = 0.9 * (bins[0]["high"] - bins[0]["low"])
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    ax.bar(centres, [b["accuracy"] for b in bins], width=width, color="tab:blue", alpha=0.8, label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="k", ms=3,
            label="at the bin's mean confidence")
    filled = [b for b in bins if b["n"]]
    if filled:
        from .evaluation import wilson_interval

        accuracy = np.array([b["accuracy"] for b in filled])
        low, high = wilson_interval(np.round(accuracy * np.array([b["n"] for b in filled])), [b["n"] for b in filled])
        yerr = np.maximum([accuracy - low, high - accuracy], 0)      # the interval holds the accuracy
        ax.errorbar([b["confidence"] for b in filled], accuracy, yerr=yerr, fmt="none",
                    ecolor="k", elinewidth=0.8, capsize=2, label="Wilson 95 % interval over the bin's structures")
    for c, b in zip(centres, bins):
        if b["n"]:
            ax.text(c, 0.02, str(b["n"]), rotation=90, fontsize=6, ha="center", va="bottom")
    ax.set(xlabel="confidence (probability of the class given)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"{title}{': ' if title else ''}ECE {ece:.4f}", fontsize=9)
    ax.legend(fontsize=6.5, loc="best", framealpha=0.9)
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
    ax.set_xlabel("defect level (η: vacancies, δ: displacements, in %)")
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


#: the level axis of each defect's accuracy curve
DEFECT_AXIS = {"vacancies": "vacancies η (% of atoms removed)",
               "displacements": "displacements δ (% of the nearest-neighbour distance)"}


def save_accuracy_curves(accuracy, folder: str | Path) -> list[Path]:
    """Draw ``accuracy_vs_vacancies`` and ``accuracy_vs_displacements`` (PNG and PDF) into ``folder``
    from a long accuracy table (method, defect, level, n, accuracy in %); returns the files written."""
    import matplotlib.pyplot as plt

    written = []
    for defect, xlabel in DEFECT_AXIS.items():
        fig = accuracy_curves(accuracy, defect, xlabel)
        written += save_figure(fig, folder, f"accuracy_vs_{defect}")
        plt.close(fig)
    return written


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
