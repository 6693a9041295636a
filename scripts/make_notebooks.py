"""Write the figure notebooks (kernel python3, a cell tagged ``parameters``, no outputs).

The notebooks are the source; this script only keeps their shape uniform:
``python scripts/make_notebooks.py`` rewrites the notebooks in notebooks/.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
SETUP = """from pathlib import Path
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from paper_lib import plotting
ROOT = plotting.repository_root()
RESULTS, FIGURES = ROOT / "results" / preset, ROOT / "figures" / preset"""


def notebook(cells):
    for i, cell in enumerate(cells):       # stable ids: regenerating leaves unchanged notebooks unchanged
        cell["id"] = f"cell-{i:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def parameters(text):
    cell = new_code_cell(text)
    cell.metadata["tags"] = ["parameters"]
    return cell


DATASET = notebook([
    new_markdown_cell("# The dataset\n\nPristine crystal structures of the seven classes of Ziletti et al. "
                      "(2018), generated from prototypes, checked with spglib, rotated, cut into finite "
                      "~250-atom clusters and scaled to a nearest-neighbour distance of 1 Å; then "
                      "vacancies and random displacements at the preset's levels."),
    parameters('preset = "quick"  # which results/<preset>/ to read'),
    new_code_cell(SETUP),
    new_markdown_cell("## Structures per class and defect level"),
    new_code_cell("""from ase.db import connect
rows = [row.key_value_pairs for row in connect(RESULTS / "structures.db").select()]
structures = pd.DataFrame(rows)
counts = structures.pivot_table(index="label", columns="defect", values="sid", aggfunc="count", fill_value=0)
counts"""),
    new_code_cell("""fig, ax = plt.subplots(figsize=(5, 3))
pristine = structures[structures.defect == "pristine"]
pristine.label.value_counts().sort_index().plot.bar(ax=ax, color="0.3")
ax.set_ylabel("pristine structures"); ax.set_xlabel("")
plotting.save_figure(fig, FIGURES, "class_counts");"""),
    new_markdown_cell("## Free parameters of the prototypes\n\nc/a of the tetragonal and hexagonal "
                      "classes, the rhombohedral angle of hR1 and the internal parameter of hR2/hR3."),
    new_code_cell("""fig = plotting.parameter_histograms(pristine)
plotting.save_figure(fig, FIGURES, "parameters");"""),
    new_markdown_cell("## Diffraction fingerprints\n\nOne pristine structure per class: red, green and "
                      "blue are the patterns of the cluster rotated by ±45° about x, y and z "
                      "(shown with gamma 0.5)."),
    new_code_cell("""from paper_lib.io import load_fingerprint_set
data = load_fingerprint_set(sorted((RESULTS / "fingerprints").glob("shard-*.h5")), defect="pristine")
first = {label: np.flatnonzero(data["label"] == label)[0] for label in sorted(set(data["label"]))}
fig = plotting.fingerprint_gallery([data["fingerprints"][i] for i in first.values()], list(first))
plotting.save_figure(fig, FIGURES, "fingerprints");"""),
    new_markdown_cell("## The same crystal from pymatgen\n\nThe fingerprint takes an `ase.Atoms` or a "
                      "pymatgen `Structure` (or `Molecule`, for a cluster) alike: pymatgen's own adaptor "
                      "converts it, and the same crystal gives the same fingerprint however it was loaded."),
    new_code_cell("""from pymatgen.io.ase import AseAtomsAdaptor
from paper_lib import fingerprint
row = next(connect(RESULTS / "structures.db").select(defect="pristine", limit=1))
atoms = row.toatoms()
structure = AseAtomsAdaptor.get_structure(atoms)          # what a pymatgen user holds
difference = np.abs(fingerprint(structure) - fingerprint(atoms)).max()
print(f"{row.label}: {structure.composition.reduced_formula}, {len(structure)} sites; "
      f"largest fingerprint difference ASE vs pymatgen: {difference:.1e}")"""),
])

ACCURACY = notebook([
    new_markdown_cell("# Accuracy against defects\n\nThe network is trained on pristine fingerprints only "
                      "and tested on structures with vacancies (a fraction η of atoms removed) and random "
                      "displacements (Gaussian, σ = δ × nearest-neighbour distance). Pristine accuracy "
                      "is measured on the held-out 10 % validation structures.\n\n"
                      "The baselines are spglib at four tolerances (symprec in Å on the structures at "
                      "their real size; a structure counts as correct when the space group belongs to its "
                      "class) and OVITO's Polyhedral Template Matching (majority vote over the atoms it "
                      "assigns). They see the preset's baseline sample (`n` in the table), the CNN every "
                      "structure."),
    parameters('preset = "quick"  # which results/<preset>/ to read'),
    new_code_cell(SETUP),
    new_markdown_cell("## Table 1\n\nAccuracy (%) per method, defect kind and level."),
    new_code_cell("""accuracy = pd.read_csv(RESULTS / "accuracy.csv")
table = accuracy.pivot_table(index=["defect", "level"], columns="method", values="accuracy")
counts = accuracy.pivot_table(index=["defect", "level"], columns="method", values="n")
FIGURES.mkdir(parents=True, exist_ok=True)
table.to_csv(FIGURES / "table1.csv")
accuracy.to_csv(FIGURES / "accuracy.csv", index=False)
table.round(2)"""),
    new_markdown_cell("Structures per cell of the table:"),
    new_code_cell("counts.astype(int)"),
    new_markdown_cell("## Accuracy against vacancies and displacements"),
    new_code_cell("""fig = plotting.accuracy_curves(accuracy, "vacancies", "vacancies η (%)")
plotting.save_figure(fig, FIGURES, "accuracy_vs_vacancies");
fig = plotting.accuracy_curves(accuracy, "displacements", "displacements δ (%)")
plotting.save_figure(fig, FIGURES, "accuracy_vs_displacements");"""),
    new_markdown_cell("## Recall per class\n\nWhich classes the CNN's errors come from, at every level."),
    new_code_cell("""recall = pd.read_csv(RESULTS / "recall.csv")
recall.to_csv(FIGURES / "recall.csv", index=False)
cnn = recall[recall["method"] == "cnn"]
cnn.pivot_table(index=["defect", "level"], columns="class", values="recall").round(1)"""),
    new_markdown_cell("## Confusion matrices\n\nRows: true class; columns: predicted class, in % of the "
                      "row (`none`: the method names no class). The CNN at the strongest displacement and "
                      "vacancy levels, and spglib at its loosest tolerance at the weakest vacancy level."),
    new_code_cell("""def confusion(method, defect, level):
    return pd.read_csv(RESULTS / "confusion" / f"{method}_{defect}_{level:g}.csv", index_col=0)

strongest = {d: accuracy.loc[accuracy["defect"] == d, "level"].max() for d in ("displacements", "vacancies")}
weakest_vacancy = accuracy.loc[accuracy["defect"] == "vacancies", "level"].min()
chosen = {f"CNN, δ = {strongest['displacements']:g} %": confusion("cnn", "displacements", strongest["displacements"]),
          f"CNN, η = {strongest['vacancies']:g} %": confusion("cnn", "vacancies", strongest["vacancies"]),
          f"spglib 1e-1, η = {weakest_vacancy:g} %": confusion("spglib_1e-1", "vacancies", weakest_vacancy)}
fig = plotting.confusion_matrices(chosen)
plotting.save_figure(fig, FIGURES, "confusion");"""),
])


RESPONSE = notebook([
    new_markdown_cell("# Attentive response maps\n\nWhich pixels of a fingerprint does the network respond "
                      "to? For each convolutional layer, the `top_k` most active feature maps are kept; "
                      "the strongest activation of each is projected back to the fingerprint through the "
                      "transposed kernels, the forward pass's ReLU switches and 2 × 2 upsampling in place "
                      "of each max-pool (deconvolution after Zeiler & Fergus, as in the paper's code). "
                      "The class map projects the score of the true class back the same way, rectified at "
                      "every ReLU (in the spirit of CLEAR). Every panel is scaled to its own maximum; the "
                      "colours are the fingerprint's channels (rotations about x, y, z).\n\n"
                      "The structures shown are held-out validation structures the network did not "
                      "train on."),
    parameters('preset = "quick"  # which results/<preset>/ to read\n'
               'per_class = 8     # structures per class for the peak statistics\n'
               'top_k = 4         # feature maps kept per layer'),
    new_code_cell(SETUP + """
import json
from paper_lib import interpret
from paper_lib.io import load_fingerprint_set
from paper_lib.model import load_model

model = load_model(RESULTS / "model.keras")
data = load_fingerprint_set(sorted((RESULTS / "fingerprints").glob("shard-*.h5")), defect="pristine")
held_out = model.metadata.get("training_data", {}).get("validation_sids", [])
unseen = np.isin(data["sid"], held_out) if held_out else np.ones(len(data["sid"]), bool)
# held-out structures of each class; a class with none held out (sc has 4 structures in the paper
# preset) falls back to structures the network trained on
examples = {c: np.flatnonzero((data["label"] == c) & unseen) for c in model.classes}
examples = {c: i if len(i) else np.flatnonzero(data["label"] == c) for c, i in examples.items()}
examples = {c: i for c, i in examples.items() if len(i)}
slug = lambda c: c.replace("/", "-")"""),
    new_markdown_cell("## Maps per layer and filter, one structure of every class"),
    new_code_cell("""for label, index in examples.items():
    fp = data["fingerprints"][index[0]]
    layers = interpret.all_layers(model, fp, top_k=top_k)
    fig = plotting.response_map_figure(fp, layers, title=label)
    plotting.save_figure(fig, FIGURES, f"response_maps_{slug(label)}")
    plt.show()"""),
    new_markdown_cell("## Every class at a glance\n\nEach layer's summed map and the map of the true class."),
    new_code_cell("""chosen = [data["fingerprints"][i[0]] for i in examples.values()]
sums = [interpret.all_layers(model, fp, top_k=top_k) for fp in chosen]
class_maps = [interpret.class_response_maps(model, fp, [model.classes.index(c)])[0]
              for c, fp in zip(examples, chosen)]
fig = plotting.class_maps_figure(chosen, list(examples), sums, class_maps)
plotting.save_figure(fig, FIGURES, "class_maps");"""),
    new_markdown_cell("## Do the maps sit on the diffraction peaks?\n\nThe share of each map's positive "
                      "response within 2 px of a diffraction peak (a local maximum of its channel at ≥ 10 % "
                      "of the channel's maximum), for the trained network, for the same architecture with "
                      "random weights, and for uniform-noise maps (whose share is the peaks' area)."),
    new_code_cell("""fps, labels = [], []
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
overall.round(3)"""),
    new_markdown_cell("Per class (the class map's rows):"),
    new_code_cell("""table[table["map"] == "class"].set_index("class").round(3)"""),
    new_code_cell("""fig, ax = plt.subplots(figsize=(6, 3.2))
x = np.arange(len(overall))
for j, (column, colour) in enumerate([("trained", "k"), ("untrained", "0.6"), ("random", "0.85")]):
    ax.bar(x + (j - 1) * 0.27, overall[column], width=0.27, color=colour, label=column)
ax.set_xticks(x, overall.index, fontsize=8)
ax.set_ylabel("share of response on peaks")
ax.legend(fontsize=8)
fig.tight_layout()
plotting.save_figure(fig, FIGURES, "peak_concentration");"""),
])


EXPLORER = notebook([
    new_markdown_cell("# Explorer\n\nPick a class, a structure, a defect kind and level: the structure in "
                      "3D, its diffraction fingerprint, the network's probabilities and the attentive "
                      "response maps (a convolutional layer's top filters or their sum, or the class map) "
                      "follow, computed live from the model, so it also works in Voilà and on Binder.\n\n"
                      "By default it opens the sample shipped in the package with the shipped model: 21 "
                      "structures of the robust preset (3 per class) that the model did not train on, "
                      "each pristine, displaced and with vacancies. Set `preset` (e.g. `\"quick\"`, after "
                      "`make figures`) to explore `results/<preset>/` instead."),
    parameters('preset = None    # None: the shipped sample and model; or "quick", "paper", ... for results/<preset>/\n'
               'results = None   # or a path to a results folder'),
    new_code_cell("""from paper_lib.widgets import Explorer

explorer = Explorer(preset, results=results)
explorer.widget"""),
])


LOCAL = notebook([
    new_markdown_cell("# Local structure maps\n\nA large sample is read through spherical windows on a grid; "
                      "each window is classified by the shipped model in its own crystal frame, with its "
                      "uncertainty, and every atom takes the vote of the windows near it "
                      "(`paper_lib.local`). The samples are synthetic periodic polycrystals "
                      "(`paper_lib.synthetic`): Voronoi grains of fcc Cu, bcc Fe, hcp Mg and diamond Si in "
                      "random orientations, and one amorphous grain (melted fcc), at four defect levels. "
                      "PTM and adaptive CNA (with OVITO's diamond identification) label the same atoms. "
                      "An atom is *interior* when it lies at least 5 Å from every grain boundary."),
    parameters('preset = "quick"  # which results/<preset>/ to read'),
    new_code_cell(SETUP),
    new_code_cell("""from ase.io import read
from paper_lib.evaluation import LOCAL_LEVELS, LOCAL_METHODS, local_scores, accuracy_by_boundary_distance, boundary_width
samples = {level: read(RESULTS / "local" / f"{level}.extxyz") for level in LOCAL_LEVELS}
first = samples["pristine"]
print(f"{len(first)} atoms, box {first.cell[0, 0]:.1f} Å, windows of {first.info['window']:.2f} Å every "
      f"{first.info['stride']:.2f} Å ({first.info['windows']} windows)")"""),
    new_markdown_cell("## Interior accuracy against the defect level\n\nThe share of interior atoms given "
                      "their true class (for the amorphous grain: `unknown`), per method; `amorphous_unknown` "
                      "is the share of the amorphous grain's interior called `unknown`."),
    new_code_cell("""rows = []
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
table.pivot_table(index="level", columns="method", values=["interior", "amorphous_unknown"], sort=False).round(4)"""),
    new_code_cell("""fig = plotting.local_accuracy_figure(table)
plotting.save_figure(fig, FIGURES, "local_accuracy");"""),
    new_markdown_cell("Wall time of each method in this run (s; the CNN on 2 fingerprint workers; "
                      "`benchmarks/bench_local.py` measures speed properly, against PTM in one process):"),
    new_code_cell("""pd.DataFrame({level: {m: round(atoms.info[f"{m}_s"], 1) for m in LOCAL_METHODS}
              for level, atoms in samples.items()})"""),
    new_markdown_cell("## Slice maps\n\nA 3 Å slab through the middle of the box, atoms coloured by class."),
    new_code_cell("""fig = plotting.local_slice_maps({"pristine": samples["pristine"],
                                 "η 20 % + δ 3 %": samples["vacancies_20_displacements_3"]})
plotting.save_figure(fig, FIGURES, "local_maps");"""),
    new_markdown_cell("In 3D (nglview): the hardest sample, coloured by the CNN's label; "
                      "`by=\"cnn_uncertainty\"` colours it by the uncertainty, green (certain) to red."),
    new_code_cell("""from paper_lib.widgets import local_view
local_view(samples["vacancies_20_displacements_3"], by="cnn", max_atoms=8000)"""),
    new_markdown_cell("## How wide the boundaries come out\n\nAccuracy in 1 Å shells of distance to the "
                      "nearest grain boundary; the width is where every shell further in reaches 90 %."),
    new_code_cell("""profiles, widths = {}, []
for level in ("pristine", "vacancies_20_displacements_3"):
    atoms = samples[level]
    for method in LOCAL_METHODS:
        profile = accuracy_by_boundary_distance(atoms.arrays["truth"], atoms.arrays[method],
                                                atoms.arrays["boundary_distance"])
        profiles[f"{method}, {level.replace('_', ' ')}"] = profile
        widths.append({"level": level, "method": method, "boundary_width_A": boundary_width(profile)})
fig = plotting.local_boundary_figure(profiles)
plotting.save_figure(fig, FIGURES, "local_boundaries")
pd.DataFrame(widths)"""),
])


def main(names=None) -> None:
    """Write the notebooks named (all without names)."""
    for name, nb in (("01_dataset", DATASET), ("02_accuracy_vs_defects", ACCURACY),
                     ("03_response_maps", RESPONSE), ("04_explorer", EXPLORER), ("05_local_maps", LOCAL)):
        if names and name not in names:
            continue
        path = ROOT / "notebooks" / f"{name}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(nb, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
