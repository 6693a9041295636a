# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Accuracy against defects
#
# The network is trained on pristine fingerprints only and tested on structures with vacancies (a fraction η of atoms removed) and random displacements (Gaussian, σ = δ × nearest-neighbour distance). Pristine accuracy is measured on the held-out 10 % validation structures.
#
# The baselines are spglib at four tolerances (symprec in Å on the structures at their real size; a structure counts as correct when the space group belongs to its class) and OVITO's Polyhedral Template Matching (majority vote over the atoms it assigns). They see the preset's baseline sample (`n` in the table), the CNN every structure.
#
# Two limits of the pristine number. The validation split keeps at least one structure of every class:
# with the paper preset's 4 sc structures, the sc validation set is **1 structure**. And every structure
# is scaled to unit nearest-neighbour distance, so a validation structure of a cubic class (bcc, diam,
# fcc, sc: no free parameter) has the same scaled geometry as every training structure of its class; only
# its element differs. The pristine accuracy is then a check that the network recognises what it was
# trained on. `benchmarks/bench_grouped_split.py` measures a split without such near-copies
# (`paper_lib.structures.grouped_folds`); see docs/results.md.

# %% tags=["parameters"]
preset = "quick"          # on its own, the notebook reads results/<preset>/ and writes figures/<preset>/
accuracy_csv = None       # accuracy per method, defect and level (the workflow passes each path, relative to the repository)
recall_csv = None         # recall per class
confusion_dir = None      # the confusion matrices, one CSV file each
predictions_csv = None    # the main model's prediction for every test structure
figures_dir = None        # the folder the figures and tables go to

# %%
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from paper_lib import plotting
from paper_lib.paths import Layout
ROOT = plotting.repository_root()
layout = Layout(preset, ROOT)    # the paths of a notebook run on its own
accuracy_csv = ROOT / accuracy_csv if accuracy_csv else layout.results / "accuracy.csv"
recall_csv = ROOT / recall_csv if recall_csv else layout.results / "recall.csv"
confusion_dir = ROOT / confusion_dir if confusion_dir else layout.results / "confusion"
predictions_csv = ROOT / predictions_csv if predictions_csv else layout.results / "predictions" / "cnn.csv"
FIGURES = ROOT / figures_dir if figures_dir else layout.figures

# %% [markdown]
# ## Table 1
#
# Accuracy (%) per method, defect kind and level. The CNN is trained once per training seed of the preset (same data, same validation split): `cnn` is the mean over the seeds and `cnn_sd` the standard deviation between them; a difference between two cells smaller than about two of these is within what a different seed gives.

# %%
from paper_lib.evaluation import seed_spread

accuracy = pd.read_csv(accuracy_csv)
spread = seed_spread(accuracy)          # each method's seeds folded into mean and s.d.
table = spread.pivot_table(index=["defect", "level"], columns="method", values="accuracy")
several = spread[spread["seeds"] > 1]
if len(several):
    table = table.join(several.pivot_table(index=["defect", "level"], columns="method",
                                           values="accuracy_sd").add_suffix("_sd"))
methods = [c for c in table.columns if not c.endswith("_sd")]
table = table[[x for c in methods for x in (c, f"{c}_sd") if x in table.columns]].round(4)   # s.d. beside its mean
counts = spread.pivot_table(index=["defect", "level"], columns="method", values="n")
FIGURES.mkdir(parents=True, exist_ok=True)
table.to_csv(FIGURES / "table1.csv")
accuracy.to_csv(FIGURES / "accuracy.csv", index=False)
table.round(2)

# %% [markdown]
# Structures per cell of the table (the pristine row is the validation set: 1 sc structure in the paper preset):

# %%
counts.astype(int)

# %% [markdown]
# Each seed's CNN accuracy (%), one column per seed (`cnn` is the main model):

# %%
accuracy[accuracy["method"].str.match(r"cnn(_seed\d+)?$")].pivot_table(
    index=["defect", "level"], columns="method", values="accuracy").round(2)

# %% [markdown]
# ## Accuracy against vacancies and displacements
#
# The levels are equally spaced ticks (displacements span 0.1–20 % of the nearest-neighbour distance);
# level 0 is each method's pristine accuracy. Every method has its own colour, line style and marker and
# is shifted a little sideways, so that curves on top of each other stay visible. Where they coincide is
# written under each figure and printed below. Bars: the Wilson 95 % interval over the `n` test
# structures (one training seed); bands: ± 1 s.d. over the training seeds around their mean. Open
# markers: accuracies over fewer than 100 structures.

# %%
plotting.save_accuracy_curves(spread, FIGURES)
for defect in plotting.DEFECT_AXIS:
    for phrase in plotting.coinciding_curves(spread, defect):
        print(f"{defect}: {phrase}")

# %% [markdown]
# ## Are the probabilities calibrated?
#
# A reliability diagram of the main model on every test structure (held-out pristine and all defective ones): the structures are binned by the probability of the class the network gives, and each bin's accuracy is set against it. A calibrated network lies on the diagonal; the expected calibration error (ECE) is the mean gap, weighted by the structures per bin. A network trained for only a few dozen steps (the quick preset) gives flat probabilities: its bars then stand far above the diagonal (underconfident), though its classes are right.

# %%
from paper_lib.uncertainty import reliability

predictions = pd.read_csv(predictions_csv)
ece, bins = reliability(predictions["detail"], predictions["predicted"] == predictions["label"])
fig = plotting.reliability_diagram(bins, ece, f"CNN, {len(predictions)} test structures")
plotting.save_figure(fig, FIGURES, "reliability")
pd.DataFrame(bins).round(4)

# %% [markdown]
# ## Recall per class
#
# Which classes the CNN's errors come from, at every level. The pristine sc recall of the paper preset rests on 1 structure.

# %%
recall = pd.read_csv(recall_csv)
recall.to_csv(FIGURES / "recall.csv", index=False)
cnn = recall[recall["method"] == "cnn"]
cnn.pivot_table(index=["defect", "level"], columns="class", values="recall").round(1)


# %% [markdown]
# ## Confusion matrices
#
# Rows: true class, with its number of structures; columns: predicted class (`none`: the method names no
# class). Each cell is labelled with its share of the row in %, a blank cell holds no structure, and each
# panel has its colour bar. Panels: the main network (the preset's first training seed) at δ = 10 %, the
# level the text discusses, when the preset has it; the CNN at the strongest displacement and vacancy
# levels; spglib at its loosest tolerance at the weakest vacancy level.

# %%
panels = plotting.confusion_panels(accuracy)      # CNN δ = 10 % (cited), strongest δ and η, spglib 1e-1
fig = plotting.confusion_matrices(plotting.read_confusions(confusion_dir, panels))
plotting.save_figure(fig, FIGURES, "confusion");
