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
# # The dataset
#
# Pristine crystal structures of the seven classes of Ziletti et al. (2018), generated from prototypes, checked with spglib, rotated, cut into finite ~250-atom clusters and scaled to a nearest-neighbour distance of 1 Å; then vacancies and random displacements at the preset's levels.

# %% tags=["parameters"]
preset = "quick"          # on its own, the notebook reads results/<preset>/ and writes figures/<preset>/
structures_db = None      # the structure database (the workflow passes each path, relative to the repository)
fingerprint_files = None  # the fingerprint files, a list (default: every shard the run's preset names)
figures_dir = None        # the folder the figures go to

# %%
from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from paper_lib import plotting
from paper_lib.paths import Layout
ROOT = plotting.repository_root()
layout = Layout(preset, ROOT)    # the paths of a notebook run on its own
structures_db = ROOT / structures_db if structures_db else layout.results / "structures.db"
fingerprint_files = [ROOT / f for f in fingerprint_files] if fingerprint_files else layout.fingerprint_shards()
FIGURES = ROOT / figures_dir if figures_dir else layout.figures

# %% [markdown]
# ## Structures per class and defect level
#
# The class-count figure has a logarithmic axis and each bar carries its count: the paper's set has
# 4 sc structures beside thousands of bcc, fcc and hex/rh ones.

# %%
from ase.db import connect
rows = [row.key_value_pairs for row in connect(structures_db).select()]
structures = pd.DataFrame(rows)
counts = structures.pivot_table(index="label", columns="defect", values="sid", aggfunc="count", fill_value=0)
counts

# %%
pristine = structures[structures.defect == "pristine"]
fig = plotting.class_counts_figure(pristine.label.value_counts().sort_index())
plotting.save_figure(fig, FIGURES, "class_counts");

# %% [markdown]
# ## Free parameters of the prototypes
#
# c/a of the tetragonal and hexagonal classes, the rhombohedral angle of hR1 and the internal parameter of hR2/hR3.

# %%
fig = plotting.parameter_histograms(pristine)
plotting.save_figure(fig, FIGURES, "parameters");

# %% [markdown]
# ## Diffraction fingerprints
#
# One pristine structure per class: red, green and blue are the patterns of the cluster rotated by ±45° about x, y and z (shown with gamma 0.5).

# %%
from paper_lib.io import load_fingerprint_set
data = load_fingerprint_set(fingerprint_files, defect="pristine")
first = {label: np.flatnonzero(data["label"] == label)[0] for label in sorted(set(data["label"]))}
fig = plotting.fingerprint_gallery([data["fingerprints"][i] for i in first.values()], list(first))
plotting.save_figure(fig, FIGURES, "fingerprints");

# %% [markdown]
# ## The same crystal from pymatgen
#
# The fingerprint takes an `ase.Atoms` or a pymatgen `Structure` (or `Molecule`, for a cluster) alike: pymatgen's own adaptor converts it, and the same crystal gives the same fingerprint however it was loaded.

# %%
from pymatgen.io.ase import AseAtomsAdaptor
from paper_lib import fingerprint
row = next(connect(structures_db).select(defect="pristine", limit=1))
atoms = row.toatoms()
structure = AseAtomsAdaptor.get_structure(atoms)          # what a pymatgen user holds
difference = np.abs(fingerprint(structure) - fingerprint(atoms)).max()
print(f"{row.label}: {structure.composition.reduced_formula}, {len(structure)} sites; "
      f"largest fingerprint difference ASE vs pymatgen: {difference:.1e}")
