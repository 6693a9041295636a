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
# # The extended model: 30 prototypes, elements and binaries
#
# The paper's seven classes merge hcp with the rhombohedral structures and know no binary compound. The extended model (`classify --model extended`) has one class per prototype: 18 elemental structure types and 12 binary ones, 200 pristine structures each (balanced), built from their Wyckoff positions (`paper_lib.prototypes`) with elements from H to Pu and free parameters (c/a, internal coordinates) over the spread of the real compounds. Its pre-processing is `crystal_frame_wide` (the crystal's own frame and length scale, with a translation search wide enough for graphite and α-Mn), and its fingerprints use the log intensity scale, so that weak superstructure reflections reach the network.
#
# A binary on the sites of an element structure (B2 CsCl on bcc, B3 zincblende on diamond, ...) differs from it only by reflections whose intensity, relative to the fundamental ones, is about the square of the scattering contrast κ = |f_A − f_B| / (f_A + f_B). The classes hold binaries with κ ≥ 0.15; below that an ordered binary diffracts as its parent structure, and section 5 measures what the model says for it.
#
# Everything here is read from `figures/extended/`, written by `scripts/train_extended_model.sh` (data and three networks, seeds 2027–2029), `scripts/calibrate_shipped_model.py` (the calibrated ensemble and its `unknown`) and `benchmarks/bench_extended.py` (the measurements). The last section runs the shipped model on a few structures built here.

# %% tags=["parameters"]
figures_dir = "figures/extended"     # what the extended model's scripts wrote, relative to the repository

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from paper_lib import plotting
from paper_lib.prototypes import EXTENDED, EXTENDED_CLASSES, HELD_OUT, MIN_CONTRAST

ROOT = plotting.repository_root()
FIGURES = ROOT / figures_dir
pd.set_option("display.width", 160)

# %% [markdown]
# ## 1. The classes
#
# One row per class: its structure type, space group, species and atoms per primitive cell. The two held-out prototypes are built the same way and never trained on.

# %%
rows = [{"class": name, "Strukturbericht": EXTENDED[name].strukturbericht, "space group": EXTENDED[name].spacegroup,
         "species": EXTENDED[name].species, "held out": name in HELD_OUT} for name in EXTENDED_CLASSES + HELD_OUT]
pd.DataFrame(rows)

# %% [markdown]
# ## 2. Table 1, per class group
#
# Accuracy (%) of the best class (no `unknown`) on structures never trained on: the held-out pristine structures (10 %) and every defective test structure, mean ± s.d. over the three training seeds. `n` is per seed.

# %%
table1 = pd.read_csv(FIGURES / "table1.csv")
table1["accuracy"] = table1.accuracy_mean.round(1).astype(str) + " ± " + table1.accuracy_sd.round(1).astype(str)
table1.pivot_table(index=["defect", "level"], columns="group", values="accuracy", aggfunc="first")

# %% [markdown]
# Per class (seed 2027), pristine and the defect levels of the acceptance test (displacements ≤ 5 %, vacancies ≤ 25 %):

# %%
pd.read_csv(FIGURES / "per_class.csv", index_col=0)

# %% [markdown]
# ## 3. The confusion matrix

# %%
display(Image(FIGURES / "confusion.png", width=700))

# %% [markdown]
# ## 4. Elements never trained on
#
# A random split tests structures whose elements also occur in training. Here a fifth of the elements are held out: the network is trained on every structure without them and tested on every structure with one. The control is the same network trained on shuffled labels.

# %%
elements = pd.read_csv(FIGURES / "elements.csv")
print(json.loads((FIGURES / "elements.json").read_text()))
elements.pivot_table(index=["defect", "level"], columns=["network", "group"], values="accuracy").round(1)

# %% [markdown]
# ## 5. Binaries: the pair of atomic numbers, and the contrast the classes need
#
# Left: accuracy of the binary test structures against |Z_A − Z_B|, per class. Right: every binary test structure at its pair of atomic numbers, wrong ones marked; the dotted line is κ = 0.15, the edge of the classes.

# %%
display(Image(FIGURES / "binaries.png", width=900))

# %% [markdown]
# Below the edge: binaries on an element structure's sites (B2 and D0₃ on bcc, B1 on sc, B3 on diamond, B4 on lonsdaleite, L1₂ on fcc), random element pairs in each contrast bin, classified as periodic cells by the shipped model. "parent" is the element structure (B2 CuZn called bcc); near-equal atomic numbers diffract as the parent does, and that is what a diffraction fingerprint can say about them.

# %%
print(f"classes hold contrast >= {MIN_CONTRAST}")
display(Image(FIGURES / "contrast.png", width=650))
pd.read_csv(FIGURES / "contrast.csv", index_col=[0, 1])

# %% [markdown]
# ## 6. `unknown`: held-out prototypes and other structures
#
# The shipped model is the ensemble of the three seeds with a calibrated decision (`scripts/calibrate_shipped_model.py`): the threshold on its uncertainty flags at most 3 % of in-class calibration structures, and a crystal whose number of sites per primitive cell no class has is `unknown` too. The held-out prototypes (C4 rutile, C14 MgZn₂) were never used to train or calibrate:

# %%
held = pd.read_csv(FIGURES / "uncertainty" / "held_out.csv")
held[["prototype", "defect", "level", "n", "unknown_share", "unknown_sites", "unknown_uncertainty", "labels_given"]]

# %% [markdown]
# Per level of Table 1, with the decision: share `unknown`, right, and wrong answers given as a class (%):

# %%
levels = pd.read_csv(FIGURES / "uncertainty" / "levels.csv")
levels[["defect", "level", "n", "accuracy_best", "unknown", "right", "wrong_as_class"]]

# %% [markdown]
# Out-of-class structures (elemental prototypes of none of the 30 types, random crystals, amorphous snapshots), the test half:

# %%
ooc = pd.read_csv(FIGURES / "uncertainty" / "out_of_class.csv")
ooc[ooc.half == "test"][["name", "n", "unknown_share", "answered_as"]]

# %% [markdown]
# ## 7. Speed
#
# `classify` with the extended model and with the shipped seven-class model, on the same periodic cells, 2 worker processes, in the same process (structures/s):

# %%
pd.read_csv(FIGURES / "speed.csv")

# %% [markdown]
# ## 8. The model on structures built here
#
# Rock salt and CsCl are far above the contrast edge; GaAs (κ = 0.03) sits on diamond's sites with almost equal form factors; rutile is a held-out prototype.

# %%
from ase.build import bulk
from ase.spacegroup import crystal

from paper_lib.model import classify, load_model

model = load_model("extended")
examples = {
    "NaCl (B1)": bulk("NaCl", "rocksalt", a=5.64),
    "CsCl (B2)": bulk("CsCl", "cesiumchloride", a=4.12),
    "Cu3Au (L1_2)": crystal(["Au", "Cu"], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=[3.75] * 3 + [90] * 3),
    "GaAs (B3, contrast 0.03)": bulk("GaAs", "zincblende", a=5.65),
    "Si (A4)": bulk("Si", "diamond", a=5.43),
    "Mg (A3)": bulk("Mg", "hcp", a=3.21, c=5.21),
    "TiO2 rutile (held out)": crystal(["Ti", "O"], [(0, 0, 0), (0.305, 0.305, 0)], spacegroup=136,
                                      cellpar=[4.59, 4.59, 2.96, 90, 90, 90]),
}
results = classify([a.repeat(3) for a in examples.values()], model, processes=1)
pd.DataFrame([{"structure": name, "answer": r.label, "best class": r.best,
               "probability": round(r.probabilities[r.best], 3) if r.best else None,
               "uncertainty": None if r.uncertainty is None else round(r.uncertainty, 3), "why unknown": r.reason}
              for name, r in zip(examples, results)])
