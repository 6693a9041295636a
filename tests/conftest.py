"""Fixtures and helpers every test file may use: small structures and presets, this checkout's
command line in a new process, and a scratch copy of the workflow with Snakemake to run it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: what a scratch copy of the workflow holds (the package comes from PYTHONPATH)
WORKFLOW_FILES = ("Snakefile", "environment.yml")
WORKFLOW_FOLDERS = ("config", "notebooks", "profiles", "workflow")


def run_cli(*args, cwd=None, env=None, check=False) -> subprocess.CompletedProcess:
    """``python -m paper_lib ARGS`` in a new process, with this checkout's paper_lib: the exit
    status, stdout and stderr (text). ``env``: the environment (default: this one); ``check``:
    raise AssertionError, with the output, on a non-zero exit."""
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "paper_lib", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def workflow_copy(folder, small_maps: bool = False) -> Path:
    """A scratch copy of what the workflow reads (:data:`WORKFLOW_FILES`, :data:`WORKFLOW_FOLDERS`)
    in ``folder``, so that what a run finds or writes does not depend on this checkout's results;
    ``small_maps``: the quick preset's local maps at 6,000 atoms (:func:`small_local_maps`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        shutil.copy(ROOT / name, folder / name)
    for name in WORKFLOW_FOLDERS:
        shutil.copytree(ROOT / name, folder / name)
    if small_maps:
        small_local_maps(folder / "config" / "quick.yaml")
    return folder


def workflow_env(**extra) -> dict:
    """The environment of a Snakemake run: this interpreter's tools first, this checkout's
    paper_lib, TensorFlow's log lines at warnings and above; ``extra`` added."""
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home()), "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(ROOT), **extra}


def snakemake(cwd, *args, env=None, **kwargs) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``cwd`` (text output captured; ``env`` default :func:`workflow_env`);
    ``kwargs`` go to ``subprocess.run`` (``timeout``, ``check``)."""
    return subprocess.run([str(BIN / "snakemake"), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=workflow_env() if env is None else env, **kwargs)


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


def tiny_results(folder) -> Path:
    """Structures and fingerprints of :func:`tiny_preset` in ``folder/results/tiny`` (the layout the
    explorer reads); returns that folder. The model is the shipped one."""
    import yaml

    results = Path(folder) / "results" / "tiny"
    (results / "fingerprints").mkdir(parents=True)
    preset = Path(folder) / "tiny.yaml"
    preset.write_text(yaml.safe_dump(tiny_preset()))
    run_cli("structures", "--config", preset, "--out", results / "structures.db", check=True)
    run_cli("fingerprints", "--db", results / "structures.db", "--out", results / "fingerprints" / "shard-000.h5",
            "--processes", "2", check=True)
    return results


@pytest.fixture
def tiny_preset_dict():
    """:func:`tiny_preset` as a fixture (a fresh dict per test)."""
    return tiny_preset()


def small_local_maps(preset, atoms: int = 6000) -> None:
    """Rewrite a preset file (a workflow copy's config/quick.yaml) with its local-map polycrystal at
    ``atoms`` atoms: tests of the workflow's mechanics need not pay for four 20,000-atom maps."""
    import yaml

    preset = Path(preset)
    raw = yaml.safe_load(preset.read_text())
    raw["local_maps"]["atoms"] = atoms
    preset.write_text(yaml.safe_dump(raw, sort_keys=False))
