"""The figures say what the text cites: the confusion panels, the accuracy curves' axis, styles,
intervals and small-sample marks, the class counts on a log axis (paper_lib.plotting)."""
import runpy
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from paper_lib import plotting  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["bcc", "fcc", "sc"]
DISPLACEMENTS = [0.1, 1.0, 10.0, 20.0]


def accuracy_table(seeds=1, baseline_n=504, pristine_n=1052):
    """An accuracy.csv in the workflow's long form: the CNN (with ``seeds`` seeds), PTM and three
    spglib tolerances of which two agree everywhere."""
    rows = []
    for s in range(seeds):
        method = "cnn" if s == 0 else f"cnn_seed{2019 + s - 1}"
        rows.append((method, "pristine", 0.0, pristine_n, 100.0 - s))
        for level, acc in zip(DISPLACEMENTS, (100.0, 100.0, 76.3 + 3 * s, 13.4)):
            rows.append((method, "displacements", level, 10517, acc))
        rows.append((method, "vacancies", 50.0, 10517, 100.0))
    for method, values in (("ptm", (84.1, 84.1, 84.1, 29.0, 0.0)), ("spglib_1e-1", (99.8, 99.8, 5.4, 0.0, 0.0)),
                           ("spglib_1e-3", (100.0, 0.0, 0.0, 0.0, 0.0)), ("spglib_1e-4", (100.0, 0.0, 0.0, 0.0, 0.0))):
        rows.append((method, "pristine", 0.0, baseline_n, values[0]))
        for level, acc in zip(DISPLACEMENTS, values[1:]):
            rows.append((method, "displacements", level, baseline_n, acc))
        rows.append((method, "vacancies", 50.0, baseline_n, 0.0))
    return pd.DataFrame(rows, columns=["method", "defect", "level", "n", "accuracy"])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_accuracy_axis_is_categorical_with_the_levels_as_ticks():
    fig = plotting.accuracy_curves(accuracy_table(), "displacements", "displacements δ (%)")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert list(ax.get_xticks()) == [0, 1, 2, 3, 4]               # equally spaced, one per level
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0\n(pristine)", "0.1", "1", "10", "20"]
    assert ax.get_ylabel() == "accuracy (%)" and ax.get_xlabel() == "displacements δ (%)"


def test_linear_axis_on_request():
    ax = plotting.accuracy_curves(accuracy_table(), "displacements", "δ (%)", categorical=False).axes[0]
    assert max(ax.get_xticks()) >= 20


def test_every_curve_has_its_own_marker_and_line_style():
    ax = plotting.accuracy_curves(accuracy_table(), "displacements", "δ (%)").axes[0]
    legend = ax.get_legend()
    curves = [(h, t.get_text()) for h, t in zip(legend.legend_handles, legend.get_texts())
              if t.get_text().startswith(("cnn", "ptm", "spglib"))]
    assert len(curves) == 5
    assert len({h.get_marker() for h, _ in curves}) == 5
    assert len({(str(h.get_linestyle()), h.get_color()) for h, _ in curves}) == 5
    spglib = [style for method, style in plotting.METHOD_STYLES.items() if method.startswith("spglib")]
    assert len({str(s["ls"]) for s in spglib}) == len(spglib) and len({s["marker"] for s in spglib}) == len(spglib)
    # coinciding curves are shifted sideways: spglib_1e-3 and spglib_1e-4 do not share x positions
    xs = [tuple(np.round(line.get_xdata(), 3)) for line in ax.get_lines() if len(line.get_xdata()) == 5]
    assert len(set(xs)) == 5


def test_coinciding_curves_are_named_in_the_caption():
    table = accuracy_table()
    phrases = plotting.coinciding_curves(table, "displacements")
    assert phrases == ["spglib_1e-3 and spglib_1e-4 at every level",
                       "cnn, spglib_1e-3 and spglib_1e-4 at pristine (100 %)",
                       "spglib_1e-1, spglib_1e-3 and spglib_1e-4 at 10 % (0 %)",
                       "ptm, spglib_1e-1, spglib_1e-3 and spglib_1e-4 at 20 % (0 %)"], phrases
    fig = plotting.accuracy_curves(table, "displacements", "δ (%)")
    caption = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "spglib_1e-3 and spglib_1e-4 at every level" in caption
    separate = table[~table["method"].isin(["spglib_1e-3", "spglib_1e-4", "spglib_1e-1", "ptm"])]
    assert plotting.coinciding_curves(separate, "displacements") == []


def test_one_seed_gets_wilson_bars_several_seeds_a_band():
    ax = plotting.accuracy_curves(accuracy_table(seeds=1), "displacements", "δ (%)").axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 5                                              # every curve
    assert not [c for c in ax.collections if isinstance(c, PolyCollection) and not c.get_offsets().size]
    ax = plotting.accuracy_curves(accuracy_table(seeds=3), "displacements", "δ (%)").axes[0]
    assert len([c for c in ax.containers if isinstance(c, ErrorbarContainer)]) == 4   # the baselines
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("mean of 3 seeds" in t for t in legend) and any("s.d. over training seeds" in t for t in legend)
    rows = plotting.curve_table(accuracy_table(seeds=3), "displacements")
    cnn = rows[(rows["method"] == "cnn") & (rows["level"] == 10.0)].iloc[0]
    assert cnn["seeds"] == 3 and cnn["accuracy"] == pytest.approx(79.3) and cnn["accuracy_sd"] == pytest.approx(3.0)


def test_wilson_interval_brackets_each_accuracy():
    rows = plotting.curve_table(accuracy_table(), "displacements")
    assert ((rows["low"] <= rows["accuracy"]) & (rows["accuracy"] <= rows["high"])).all()
    small = plotting.curve_table(accuracy_table(baseline_n=40), "displacements")
    ptm, ptm_small = (r[(r["method"] == "ptm") & (r["level"] == 10.0)].iloc[0] for r in (rows, small))
    assert ptm_small["high"] - ptm_small["low"] > 2 * (ptm["high"] - ptm["low"])


def test_accuracies_on_few_structures_have_open_markers_and_a_legend_note():
    fig = plotting.accuracy_curves(accuracy_table(baseline_n=60, pristine_n=42), "displacements", "δ (%)")
    ax = fig.axes[0]
    faces = [c.get_facecolors() for c in ax.collections if c.get_offsets().shape[0] == 5]
    white = [np.all(np.isclose(f[:, :3], 1.0), axis=1) for f in faces]
    assert sum(w[0] for w in white) == 5                                # every pristine point (n < 100)
    assert sum(w[1:].all() for w in white) == 4                         # the baselines' levels (n = 60)
    assert any("fewer than 100 structures" in t.get_text() for t in ax.get_legend().get_texts())
    big = plotting.accuracy_curves(accuracy_table(), "displacements", "δ (%)").axes[0]
    assert not any("fewer than" in t.get_text() for t in big.get_legend().get_texts())


def test_confusion_figure_shows_the_cited_delta_10_panel_with_colour_bars_and_percentages(tmp_path):
    table = accuracy_table()
    table.loc[len(table)] = ("spglib_1e-1", "vacancies", 1.0, 504, 0.0)
    panels = plotting.confusion_panels(table)
    assert panels[0] == ("cnn", "displacements", 10.0)
    assert ("cnn", "displacements", 20.0) in panels and ("cnn", "vacancies", 50.0) in panels
    assert ("spglib_1e-1", "vacancies", 1.0) in panels
    counts = pd.DataFrame([[10, 0, 0], [0, 3, 7], [0, 0, 4]], index=pd.Index(CLASSES, name="true"),
                          columns=pd.Index(CLASSES, name="predicted"))
    for method, defect, level in panels:
        counts.to_csv(tmp_path / f"{method}_{defect}_{level:g}.csv")
    fig = plotting.confusion_matrices(plotting.read_confusions(tmp_path, panels))
    heatmaps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heatmaps][0] == "CNN, δ = 10 %"
    assert len(heatmaps) == 4
    for ax in heatmaps:
        assert ax.collections[0].colorbar is not None
        assert ax.collections[0].colorbar.ax.get_ylabel() == "% of the true class"
        texts = [t.get_text() for t in ax.texts]
        assert "30%" in texts and "70%" in texts and "100%" in texts
        assert len([t for t in texts if t]) == 4                          # empty cells carry no label
        assert [t.get_text() for t in ax.get_yticklabels()] == ["bcc (10)", "fcc (10)", "sc (4)"]
    assert len(fig.axes) == 8                                            # four heat maps, four colour bars


def test_class_counts_on_a_log_axis_with_every_count_written():
    counts = {"bcc": 2601, "fcc": 2761, "sc": 4}
    ax = plotting.class_counts_figure(counts).axes[0]
    assert ax.get_yscale() == "log"
    assert {t.get_text() for t in ax.texts} == {"2,601", "2,761", "4"}
    assert ax.get_ylabel().startswith("pristine structures") and ax.get_xlabel() == "class"


def test_reliability_bins_have_wilson_bars():
    from paper_lib.uncertainty import reliability

    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 400)
    ece, bins = reliability(confidence, rng.uniform(size=400) < confidence)
    ax = plotting.reliability_diagram(bins, ece).axes[0]
    assert [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    ece, bins = reliability(confidence, np.ones(400, bool))            # every bin at 100 %
    ax = plotting.reliability_diagram(bins, ece).axes[0]
    assert [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_parameter_histograms_label_both_axes():
    table = pd.DataFrame({"prototype": ["A6_bct"] * 5, "c_over_a": np.linspace(0.8, 1.6, 5)})
    ax = plotting.parameter_histograms(table).axes[0]
    assert ax.get_ylabel() == "structures" and ax.get_xlabel().startswith("c/a")


def test_replot_script_redraws_the_paper_figures_from_committed_tables(tmp_path):
    shutil.copy(ROOT / "figures" / "paper" / "accuracy.csv", tmp_path / "accuracy.csv")
    script = runpy.run_path(str(ROOT / "scripts" / "replot_figures.py"))
    assert script["main"](["--figures", str(tmp_path), "--config", str(ROOT / "config" / "paper.yaml"),
                           "--confusion", str(ROOT / "figures" / "paper" / "augmentation" / "confusion")]) == 0
    for name in ("accuracy_vs_vacancies", "accuracy_vs_displacements", "confusion", "class_counts"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_peak_concentration_from_the_committed_table_has_labelled_axes():
    table = pd.read_csv(ROOT / "figures" / "paper" / "peak_concentration.csv")
    ax = plotting.peak_concentration_figure(table).axes[0]
    assert ax.get_xlabel() and "within 2 px of a peak" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(dict.fromkeys(table["map"]))
    trained = [p.get_height() for p in ax.containers[0]]
    assert trained == pytest.approx(table.groupby("map", sort=False)["trained"].mean().tolist())
