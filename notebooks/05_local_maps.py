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
# # Local structure maps
#
# A large sample is read through spherical windows on a grid; each window is classified by the shipped model in its own crystal frame, with its uncertainty, and every atom takes the vote of the windows near it (`paper_lib.local`). The samples are synthetic periodic polycrystals (`paper_lib.synthetic`): Voronoi grains of fcc Cu, bcc Fe, hcp Mg and diamond Si in random orientations, and one amorphous grain (melted fcc), at four defect levels. PTM and adaptive CNA (with OVITO's diamond identification) label the same atoms. An atom is *interior* when it lies at least 5 Å from every grain boundary.

# %% tags=["parameters"]
preset = "quick"          # on its own, the notebook reads results/<preset>/ and writes figures/<preset>/
sample_files = None       # {defect level: extended XYZ file} (the workflow passes each path, relative to the repository)
figures_dir = None        # the folder the figures and the table go to

# %%
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from paper_lib import plotting
from paper_lib.paths import Layout
ROOT = plotting.repository_root()
layout = Layout(preset, ROOT)    # the paths of a notebook run on its own
FIGURES = ROOT / figures_dir if figures_dir else layout.figures

# %%
from ase.io import read
from paper_lib.evaluation import LOCAL_LEVELS, LOCAL_METHODS, local_scores, accuracy_by_boundary_distance, boundary_width
sample_files = ({level: ROOT / f for level, f in sample_files.items()} if sample_files
                else {level: layout.results / "local" / f"{level}.extxyz" for level in LOCAL_LEVELS})
samples = {level: read(f) for level, f in sample_files.items()}
first = samples["pristine"]
print(f"{len(first)} atoms, box {first.cell[0, 0]:.1f} Å, windows of {first.info['window']:.2f} Å every "
      f"{first.info['stride']:.2f} Å ({first.info['windows']} windows)")

# %% [markdown]
# ## Interior accuracy against the defect level
#
# The share of interior atoms given their true class (for the amorphous grain: `unknown`), per method; `amorphous_unknown` is the share of the amorphous grain's interior called `unknown`.

# %%
rows = []
for level, atoms in samples.items():
    for method in LOCAL_METHODS:
        scores = local_scores(atoms.arrays["truth"], atoms.arrays[method], atoms.arrays["boundary_distance"])
        rows.append({"level": level, "method": method, "interior": scores["interior"],
                     "crystalline": scores["crystalline"], "amorphous_unknown": scores["amorphous_unknown"],
                     **{f"interior_{c}": v for c, v in scores["per_class"].items()},
                     "n_interior": scores["n_interior"], "atoms": len(atoms)})
table = pd.DataFrame(rows)        # no timings in it: the figures' data must not depend on the machine's load
FIGURES.mkdir(parents=True, exist_ok=True)
table.to_csv(FIGURES / "local_accuracy.csv", index=False)
table.pivot_table(index="level", columns="method", values=["interior", "amorphous_unknown"], sort=False).round(4)

# %%
fig = plotting.local_accuracy_figure(table)
plotting.save_figure(fig, FIGURES, "local_accuracy");

# %% [markdown]
# Wall time of each method in this run (s; the CNN on 2 fingerprint workers; `benchmarks/bench_local.py` measures speed properly, against PTM in one process):

# %%
pd.DataFrame({level: {m: round(atoms.info[f"{m}_s"], 1) for m in LOCAL_METHODS}
              for level, atoms in samples.items()})

# %% [markdown]
# ## Slice maps
#
# A 3 Å slab through the middle of the box, atoms coloured by class.

# %%
fig = plotting.local_slice_maps({"pristine": samples["pristine"],
                                 "η 20 % + δ 3 %": samples["vacancies_20_displacements_3"]})
plotting.save_figure(fig, FIGURES, "local_maps");

# %% [markdown]
# In 3D (nglview): the hardest sample, coloured by the CNN's label; `by="cnn_uncertainty"` colours it by the uncertainty, green (certain) to red.

# %%
from paper_lib.widgets import local_view
local_view(samples["vacancies_20_displacements_3"], by="cnn", max_atoms=8000)

# %% [markdown]
# ## How wide the boundaries come out
#
# Accuracy in 1 Å shells of distance to the nearest grain boundary; the width is where every shell further in reaches 90 %.

# %%
profiles, widths = {}, []
for level in ("pristine", "vacancies_20_displacements_3"):
    atoms = samples[level]
    for method in LOCAL_METHODS:
        profile = accuracy_by_boundary_distance(atoms.arrays["truth"], atoms.arrays[method],
                                                atoms.arrays["boundary_distance"])
        profiles[f"{method}, {level.replace('_', ' ')}"] = profile
        widths.append({"level": level, "method": method, "boundary_width_A": boundary_width(profile)})
fig = plotting.local_boundary_figure(profiles)
plotting.save_figure(fig, FIGURES, "local_boundaries")
pd.DataFrame(widths)
