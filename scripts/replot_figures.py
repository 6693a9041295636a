"""Redraw a preset's accuracy, confusion and class-count figures from tables already written.

    python scripts/replot_figures.py --figures figures/paper --config config/paper.yaml \
        --confusion figures/paper/augmentation/confusion
    python scripts/replot_figures.py --figures figures/quick --config config/quick.yaml \
        --confusion results/quick/confusion

Reads ``<figures>/accuracy.csv`` (long form, a method's further seeds as ``NAME_seed<S>`` rows: they
are drawn as mean +/- s.d.), the confusion matrices ``<confusion>/<method>_<defect>_<level>.csv``
and the class counts of the preset file, and writes ``accuracy_vs_vacancies``,
``accuracy_vs_displacements``, ``confusion``, ``class_counts`` and, from
``<figures>/peak_concentration.csv`` where present, ``peak_concentration`` (PNG and PDF) into ``<figures>``
with the functions the notebooks use (:mod:`paper_lib.plotting`). No network or structure is
touched. A confusion panel whose table is absent is named and left out.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from paper_lib import config, plotting  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=Path, required=True, help="folder with accuracy.csv; figures go there")
    parser.add_argument("--config", type=Path, required=True, help="the preset file (class counts)")
    parser.add_argument("--confusion", type=Path, help="folder of confusion-matrix CSVs")
    args = parser.parse_args(argv)

    accuracy = pd.read_csv(args.figures / "accuracy.csv")
    written = []
    written += plotting.save_accuracy_curves(accuracy, args.figures)
    for defect in plotting.DEFECT_AXIS:
        for sentence in plotting.coinciding_curves(accuracy, defect):
            print(f"{defect}: {sentence}")
    if args.confusion:
        panels = plotting.confusion_panels(accuracy)
        present = [p for p in panels if (args.confusion / f"{p[0]}_{p[1]}_{p[2]:g}.csv").exists()]
        for p in panels:
            if p not in present:
                print(f"confusion: no table for {plotting.confusion_title(*p)} in {args.confusion}; left out")
        fig = plotting.confusion_matrices(plotting.read_confusions(args.confusion, present))
        written += plotting.save_figure(fig, args.figures, "confusion")
        plt.close(fig)
    fig = plotting.class_counts_figure(config.load(args.config).counts)
    written += plotting.save_figure(fig, args.figures, "class_counts")
    plt.close(fig)
    if (args.figures / "peak_concentration.csv").exists():
        fig = plotting.peak_concentration_figure(pd.read_csv(args.figures / "peak_concentration.csv"))
        written += plotting.save_figure(fig, args.figures, "peak_concentration")
        plt.close(fig)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
