"""The figure notebooks are paired: each notebooks/NN_name.py (jupytext percent format, the source to edit
and review) holds the same cells as the notebooks/NN_name.ipynb papermill runs.

Edit either one in JupyterLab (with jupytext, the pair is saved together), or edit the .py and run
``jupytext --sync notebooks/NN_name.py``; an edit of one file alone fails here.
"""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PAIRING = "ipynb,py:percent"

jupytext = pytest.importorskip("jupytext", reason="workflow extra not installed")


def cells(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    """A notebook's cells as (type, source, tags)."""
    return [(cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def pair_differences(py: Path) -> list[str]:
    """How the notebook ``py`` and its ``.ipynb`` twin differ (nothing: they are in sync)."""
    import nbformat

    ipynb = py.with_suffix(".ipynb")
    if not ipynb.exists():
        return [f"{ipynb.name} is missing"]
    text, notebook = jupytext.read(py), nbformat.read(ipynb, as_version=4)
    problems = []
    for name, nb in ((py.name, text), (ipynb.name, notebook)):
        if nb.metadata.get("jupytext", {}).get("formats") != PAIRING:
            problems.append(f"{name} is not paired as {PAIRING}")
        if nb.metadata.get("kernelspec", {}).get("name") != "python3":
            problems.append(f"{name}: kernel is not python3")
    a, b = cells(text), cells(notebook)
    if len(a) != len(b):
        problems.append(f"{py.name} has {len(a)} cells, {ipynb.name} {len(b)}")
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            problems.append(f"cell {k}: {py.name} has {x!r}, {ipynb.name} {y!r}")
    return problems


def test_every_notebook_has_its_source():
    sources = {p.stem for p in NOTEBOOKS.glob("*.py")}
    notebooks = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert sources == notebooks and len(sources) == 6, (sources, notebooks)


@pytest.mark.parametrize("py", sorted(NOTEBOOKS.glob("*.py")), ids=lambda p: p.stem)
def test_pair_is_in_sync(py):
    assert pair_differences(py) == []


def test_an_edit_of_one_file_alone_is_caught(tmp_path):
    """The check itself: a copy of a pair, one side edited (a source, a cell added, the parameters
    tag dropped), is out of sync; synced again with jupytext, it is in sync."""
    import nbformat

    py = tmp_path / "01_dataset.py"
    ipynb = py.with_suffix(".ipynb")

    def fresh():
        for path in (py, ipynb):
            shutil.copy(NOTEBOOKS / path.name, path)
        assert pair_differences(py) == []

    fresh()
    py.write_text(py.read_text().replace("## Structures per class", "## Structures in each class"))
    assert any("cell 3" in p for p in pair_differences(py)), pair_differences(py)

    fresh()
    py.write_text(py.read_text() + "\n# %%\nprint('one more cell')\n")
    assert "has 13 cells" in " ".join(pair_differences(py)), pair_differences(py)

    fresh()
    nb = nbformat.read(ipynb, as_version=4)
    nb.cells[1].metadata["tags"] = []
    nbformat.write(nb, ipynb)
    assert any("cell 1" in p for p in pair_differences(py)), pair_differences(py)

    fresh()
    nb = nbformat.read(ipynb, as_version=4)
    nb.cells[4].source = nb.cells[4].source.replace("counts", "table")
    nbformat.write(nb, ipynb)
    assert any("cell 4" in p for p in pair_differences(py)), pair_differences(py)
    # jupytext brings the .py up to date from the edited notebook: in sync again
    text = jupytext.read(ipynb)
    jupytext.write(text, py, fmt="py:percent")
    assert pair_differences(py) == []


def test_the_extended_model_notebook_runs_on_what_is_committed():
    """Notebook 06 reads figures/extended/ (committed) and runs the shipped extended model."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOKS / "06_extended_model.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    # the last cell: the shipped model on structures built in the notebook
    last = [c for c in notebook.cells if c.cell_type == "code"][-1]
    table = "".join(o.get("data", {}).get("text/plain", "") for o in last.get("outputs", []))
    answers = {name: next(line for line in table.splitlines() if name in line).split()
               for name in ("NaCl", "CsCl", "GaAs", "TiO2")}
    assert "B1_NaCl" in answers["NaCl"] and "B2_CsCl" in answers["CsCl"], table
    assert answers["GaAs"][answers["GaAs"].index("contrast") + 2] == "A4_diamond", table    # its parent
    assert "unknown" in answers["TiO2"], table
