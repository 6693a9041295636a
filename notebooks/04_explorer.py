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
# # Explorer
#
# Pick a class, a structure, a defect kind and level: the structure in 3D, its diffraction fingerprint, the network's probabilities and the attentive response maps (a convolutional layer's top filters or their sum, or the class map) follow, computed live from the model, so it also works in Voilà and on Binder.
#
# By default it opens the sample shipped in the package with the shipped model: 21 structures of the robust preset (3 per class) that the model did not train on, each pristine, displaced and with vacancies. The `model` control (under the others) switches to another shipped model that has a sample of its own, with that sample (`Explorer(model="extended")` opens it directly). Set `preset` (e.g. `"quick"`, after `make figures`) to explore `results/<preset>/` instead (then the control shows that folder's model only).

# %% tags=["parameters"]
preset = None    # None: the shipped sample and model; or "quick", "paper", ... for results/<preset>/
results = None   # or a path to a results folder

# %%
from paper_lib.widgets import Explorer

explorer = Explorer(preset, results=results)
explorer.widget
