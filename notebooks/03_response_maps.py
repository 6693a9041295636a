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
# # Attentive response maps
#
# Which pixels of a fingerprint does the network respond to? For each convolutional layer, the `top_k` most active feature maps are kept; the strongest activation of each is projected back to the fingerprint through the transposed kernels, the forward pass's ReLU switches and 2 × 2 upsampling in place of each max-pool (deconvolution after Zeiler & Fergus, as in the paper's code). The class map projects the score of the true class back the same way, rectified at every ReLU (in the spirit of CLEAR). Every panel is scaled to its own maximum; the colours are the fingerprint's channels (rotations about x, y, z).
#
# The structures shown are held-out validation structures the network did not train on.

# %% tags=["parameters"]
preset = "quick"          # on its own, the notebook reads results/<preset>/ and writes figures/<preset>/
model_file = None         # the trained network (the workflow passes each path, relative to the repository)
fingerprint_files = None  # the fingerprint files, a list (default: every shard the run's preset names)
figures_dir = None        # the folder the figures and the table go to
per_class = 8     # structures per class for the peak statistics
top_k = 4         # feature maps kept per layer

# %%
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from paper_lib import plotting
from paper_lib.paths import Layout
ROOT = plotting.repository_root()
layout = Layout(preset, ROOT)    # the paths of a notebook run on its own
model_file = ROOT / model_file if model_file else layout.results / "model.keras"
fingerprint_files = [ROOT / f for f in fingerprint_files] if fingerprint_files else layout.fingerprint_shards()
FIGURES = ROOT / figures_dir if figures_dir else layout.figures
import json
from paper_lib import interpret
from paper_lib.io import load_fingerprint_set
from paper_lib.model import load_model

model = load_model(model_file)
data = load_fingerprint_set(fingerprint_files, defect="pristine")
held_out = model.metadata.get("training_data", {}).get("validation_sids", [])
unseen = np.isin(data["sid"], held_out) if held_out else np.ones(len(data["sid"]), bool)
# held-out structures of each class; a class with none held out (sc has 4 structures in the paper
# preset) falls back to structures the network trained on
examples = {c: np.flatnonzero((data["label"] == c) & unseen) for c in model.classes}
examples = {c: i if len(i) else np.flatnonzero(data["label"] == c) for c, i in examples.items()}
examples = {c: i for c, i in examples.items() if len(i)}
slug = lambda c: c.replace("/", "-")

# %% [markdown]
# ## Maps per layer and filter, one structure of every class

# %%
for label, index in examples.items():
    fp = data["fingerprints"][index[0]]
    layers = interpret.all_layers(model, fp, top_k=top_k)
    fig = plotting.response_map_figure(fp, layers, title=label)
    plotting.save_figure(fig, FIGURES, f"response_maps_{slug(label)}")
    plt.show()

# %% [markdown]
# ## Every class at a glance
#
# Each layer's summed map and the map of the true class.

# %%
chosen = [data["fingerprints"][i[0]] for i in examples.values()]
sums = [interpret.all_layers(model, fp, top_k=top_k) for fp in chosen]
class_maps = [interpret.class_response_maps(model, fp, [model.classes.index(c)])[0]
              for c, fp in zip(examples, chosen)]
fig = plotting.class_maps_figure(chosen, list(examples), sums, class_maps)
plotting.save_figure(fig, FIGURES, "class_maps");

# %% [markdown]
# ## Do the maps sit on the diffraction peaks?
#
# The share of each map's positive response within 2 px of a diffraction peak (a local maximum of its channel at ≥ 10 % of the channel's maximum), for the trained network, for the same architecture with random weights, and for uniform-noise maps (whose share is the peaks' area).

# %%
fps, labels = [], []
for label, index in examples.items():
    for i in index[:per_class]:
        fps.append(data["fingerprints"][i]); labels.append(label)
untrained = interpret.untrained_like(model, seed=0)
table = interpret.peak_concentration_table(model, untrained, fps, labels, top_k=top_k)
table.to_csv(FIGURES / "peak_concentration.csv", index=False)
overall = table.groupby("map", sort=False)[["n", "trained", "untrained", "random"]].agg(
    {"n": "sum", "trained": "mean", "untrained": "mean", "random": "mean"})
overall["vs_untrained"] = overall["trained"] / overall["untrained"]
overall["vs_random"] = overall["trained"] / overall["random"]
overall.round(3)

# %% [markdown]
# Per class (the class map's rows):

# %%
table[table["map"] == "class"].set_index("class").round(3)

# %%
fig = plotting.peak_concentration_figure(table)
plotting.save_figure(fig, FIGURES, "peak_concentration");

# %% [markdown]
# ## Class-specific maps: the gradient of the class score
#
# The maps above are drawn from one layer's strongest filters, whatever the class. A map of one class is the gradient of that class's score (before the softmax) with respect to every pixel, times the pixel's intensity: to first order, the score the class loses when the pixel is set to 0. Its positive part speaks for the class, its negative part against. The last column is the map of the class the network ranks second.

# %%
from paper_lib.model import predict

shown = np.stack([data["fingerprints"][i[0]] for i in examples.values()])
true = np.array([model.classes.index(c) for c in examples])
p = predict(model, shown)
p[np.arange(len(true)), true] = -1
runner_up = p.argmax(axis=1)
fig = plotting.saliency_figure(shown, list(examples), interpret.saliency_maps(model, shown, true),
                               interpret.saliency_maps(model, shown, runner_up),
                               [model.classes[c] for c in runner_up])
plotting.save_figure(fig, FIGURES, "saliency_maps");

# %% [markdown]
# ## Do the maps point at what the network uses?
#
# Peak concentration says where a map lies, not whether the network needs those pixels. The deletion test asks that: set the `k` pixels a map ranks highest to 0 and ask the network again, against random pixels, the fingerprint's brightest pixels (no network at all), the untrained network's map and the runner-up class's map. It takes about a second per fingerprint on 2 cores, so it runs as a benchmark, not in this notebook: `python benchmarks/bench_response_maps.py` (tables and figure in `figures/robust/response/`, the numbers in docs/results.md, "Response maps, measured").
#
# Measured on the paper preset's network and 1,821 held-out fingerprints: deleting the top 20 pixels of the true class's gradient × input map drops the accuracy from 95.5 % to 16.0 %; the brightest 20 pixels to 37.3 %; 20 random pixels leave 95.4 %; the untrained network's map 85.9 %. Gradient × input is the only map that beats the brightest pixels, by a modest margin and not for every class (for sc the brightest pixels do better). The guided class map (37.0 %) does no better than the brightest pixels, and the per-layer deconvolution maps do worse: they show where the peaks are, not what this network uses. The conv5 and conv6 maps look alike for every class because a unit there sees the whole fingerprint (receptive fields of 64 and 88 px) and four filters carry three quarters of the activation; the untrained network's maps are even more alike, so the likeness comes from the projection, not from training.
