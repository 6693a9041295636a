import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk


def fcc_cluster(reps=(4, 4, 4), symbol="Cu") -> Atoms:
    """Finite fcc cluster of conventional cells, nearest-neighbour distance 1 Angstrom."""
    atoms = bulk(symbol, "fcc", a=np.sqrt(2.0), cubic=True).repeat(reps)
    atoms.pbc = False
    return atoms


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def tiny_preset() -> dict:
    """A preset small enough for tests: two structures per class, one defect level of each kind."""
    return {
        "preset": "tiny",
        "seed": 7,
        "split_hex_rh": False,
        "pristine": {"counts": {"bcc": 2, "bct_139": 2, "bct_141": 2, "diam": 2, "fcc": 2,
                                "hex/rh": 2, "sc": 2},
                     "elements": "all", "target_atoms": 250},
        "defects": {"displacements": [4], "vacancies": [25], "fraction_of_pristine": 0.5},
        "shards": 2,
        "baselines": {"pristine_sample": None},
    }


def tiny_results(folder) -> "Path":
    """Structures and fingerprints of :func:`tiny_preset` in ``folder/results/tiny`` (the layout the
    explorer reads); returns that folder. The model is the shipped one."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    results = Path(folder) / "results" / "tiny"
    (results / "fingerprints").mkdir(parents=True)
    preset = Path(folder) / "tiny.yaml"
    preset.write_text(yaml.safe_dump(tiny_preset()))
    cli = [sys.executable, "-m", "paper_lib"]
    subprocess.run([*cli, "structures", "--config", preset, "--out", results / "structures.db"], check=True,
                   capture_output=True)
    subprocess.run([*cli, "fingerprints", "--db", results / "structures.db", "--out",
                    results / "fingerprints" / "shard-000.h5", "--processes", "2"], check=True, capture_output=True)
    return results


@pytest.fixture
def tiny_preset_dict():
    """:func:`tiny_preset` as a fixture (a fresh dict per test)."""
    return tiny_preset()


#: what the workflow reads besides the installed package: a scratch copy of these runs it
WORKFLOW_FILES = ("Snakefile", "environment.yml", "config", "notebooks", "profiles", "workflow")


def copy_workflow(folder) -> "Path":
    """A scratch copy of the workflow (:data:`WORKFLOW_FILES`) in ``folder``; returns the folder."""
    import shutil
    from pathlib import Path

    root, folder = Path(__file__).resolve().parents[1], Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        if (root / name).is_dir():
            shutil.copytree(root / name, folder / name)
        else:
            shutil.copy(root / name, folder / name)
    return folder


def small_local_maps(preset, atoms: int = 6000) -> None:
    """Rewrite a preset file (a workflow copy's config/quick.yaml) with its local-map polycrystal at
    ``atoms`` atoms: tests of the workflow's mechanics need not pay for four 20,000-atom maps."""
    from pathlib import Path

    import yaml

    preset = Path(preset)
    raw = yaml.safe_load(preset.read_text())
    raw["local_maps"]["atoms"] = atoms
    preset.write_text(yaml.safe_dump(raw, sort_keys=False))
