"""pymatgen is a first-class input: a ``Structure``/``IStructure`` (crystal) or ``Molecule``
(cluster) is taken wherever an ``ase.Atoms`` is, in the API and the CLI, and gives the same
fingerprint and class as the same crystal read by ASE."""
import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read
from conftest import run_cli

from paper_lib import classify, fingerprint, fingerprints
from paper_lib.io import read_structure_file
from paper_lib.structures import NotAStructure, StructureError, to_atoms

pymatgen = pytest.importorskip("pymatgen.core")
from pymatgen.core import IStructure, Lattice, Molecule, Structure  # noqa: E402

# Silicon in the diamond structure, written as a crystallographer would: the space group's
# symmetry operations and one Wyckoff position (8a). Both readers must expand it to 8 atoms.
SI_CIF = """data_Si
_symmetry_space_group_name_H-M   'F d -3 m'
_symmetry_Int_Tables_number      227
_cell_length_a    5.431
_cell_length_b    5.431
_cell_length_c    5.431
_cell_angle_alpha 90
_cell_angle_beta  90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
{ops}
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Si1 Si 0 0 0
"""


def _fd3m_ops() -> str:
    from ase.spacegroup import Spacegroup

    sg = Spacegroup(227)
    lines = []
    for rotation, translation in sg.get_symop():
        parts = []
        for row, t in zip(rotation, translation):
            term = "".join(f"{'+' if c > 0 else '-'}{axis}" for c, axis in zip(row, "xyz") if c)
            frac = {0: "", 0.25: "+1/4", 0.5: "+1/2", 0.75: "+3/4"}[round(float(t) % 1, 2)]
            parts.append((term.lstrip("+") + frac) or "0")
        lines.append("'" + ",".join(parts) + "'")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def si_cif(tmp_path_factory):
    path = tmp_path_factory.mktemp("cif") / "Si.cif"
    path.write_text(SI_CIF.format(ops=_fd3m_ops()))
    return path


@pytest.fixture(scope="module")
def both(si_cif):
    """The same CIF read by ASE and by pymatgen."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(si_cif), Structure.from_file(str(si_cif))


def test_both_libraries_read_the_cif_as_the_same_crystal(both):
    atoms, structure = both
    assert len(atoms) == len(structure) == 8
    converted = to_atoms(structure)
    assert converted.pbc.all()
    np.testing.assert_allclose(converted.cell.array, atoms.cell.array, atol=1e-6)
    assert sorted(converted.get_chemical_symbols()) == ["Si"] * 8


def test_fingerprint_of_a_pymatgen_structure_equals_the_ase_one(both):
    atoms, structure = both
    np.testing.assert_allclose(fingerprint(structure), fingerprint(atoms), atol=1e-5)
    np.testing.assert_allclose(fingerprint(IStructure.from_sites(structure)), fingerprint(atoms), atol=1e-5)


def test_classify_takes_pymatgen_alone_and_in_a_list(both):
    atoms, structure = both
    one = classify(structure)                    # one structure in, one Classification out
    assert one.label == "diam", (one.label, one.reason)
    copper = Structure(Lattice.cubic(3.615), ["Cu"] * 4,
                       [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    mixed = classify([atoms, structure, copper, IStructure.from_sites(copper)])
    assert [c.label for c in mixed] == ["diam", "diam", "fcc", "fcc"]
    for c in mixed[0].probabilities:
        assert mixed[0].probabilities[c] == pytest.approx(mixed[1].probabilities[c], abs=1e-5)


def test_a_pymatgen_molecule_is_a_cluster():
    cluster = bulk("Cu", "fcc", a=3.615, cubic=True).repeat((5, 5, 5))
    cluster.pbc = False
    cluster.cell = None
    molecule = Molecule(cluster.get_chemical_symbols(), cluster.positions)
    assert not to_atoms(molecule).pbc.any()
    np.testing.assert_allclose(fingerprint(molecule), fingerprint(cluster), atol=1e-5)


def test_disordered_and_foreign_objects_are_refused_by_name():
    alloy = Structure(Lattice.cubic(3.6), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    with pytest.raises(StructureError, match="alloy.cif: the pymatgen structure is disordered"):
        to_atoms(alloy, "alloy.cif")
    with pytest.raises(NotAStructure, match="thing: expected an ase.Atoms or a pymatgen"):
        to_atoms("Cu", "thing")
    with pytest.raises(TypeError):               # NotAStructure is a TypeError too
        to_atoms(42)


def test_one_bad_object_does_not_stop_a_batch(both):
    atoms, structure = both
    alloy = Structure(Lattice.cubic(3.6), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    batch = fingerprints([structure, alloy, "not a structure", atoms])
    assert list(batch.ok) == [0, 3]
    assert [i for i, _ in batch.failed] == [1, 2]
    assert "disordered" in batch.failed[0][1] and "expected an ase.Atoms" in batch.failed[1][1]


def test_cli_reads_pymatgen_json_and_format_pymatgen(tmp_path, both, si_cif):
    _, structure = both
    saved = tmp_path / "si.json"
    structure.to(filename=str(saved))            # pymatgen's own serialisation
    assert len(read_structure_file(saved)) == 1
    broken = tmp_path / "broken.json"
    broken.write_text('{"@module": "pymatgen.core.structure", "@class": "Structure", "lattice": ')
    result = run_cli("classify", "--json", saved, broken)
    assert result.returncode == 1, result.stderr      # one file failed, the other was classified
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    good = [line for line in lines if line["source"] == str(saved)]
    assert good and good[0]["label"] == "diam"
    assert f"{broken}: pymatgen cannot read it" in result.stderr
    forced = run_cli("classify", "--json", "--format", "pymatgen", si_cif)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout.splitlines()[0])["label"] == "diam"
