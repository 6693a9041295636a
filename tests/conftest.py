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


@pytest.fixture
def tiny_preset_dict():
    """:func:`tiny_preset` as a fixture (a fresh dict per test)."""
    return tiny_preset()
