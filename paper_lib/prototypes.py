"""The extended prototype library: elemental and binary crystal structures, one class each.

The paper's seven classes lump structure types together (hex/rh holds hcp, alpha-Hg, alpha-As and
alpha-Sm); the extended model gives every prototype below its own class. Each is built in code from
its Wyckoff positions with :func:`ase.spacegroup.crystal` (primitive cell), its free parameters
drawn uniformly from the ranges in the table, and the whole cell scaled so that the shortest
interatomic distance is exactly the nearest-neighbour distance asked for (Angstrom).

Ranges of free parameters. Each range is the spread of the parameter over the real elements or
compounds named in the table (their published values), widened on both sides by
:data:`RATIO_MARGIN` (1 %, relative; ratios c/a, b/a and the rhombohedral angle) or
:data:`COORDINATE_MARGIN` (0.003, absolute; fractional Wyckoff coordinates) -- the jitter
:mod:`paper_lib.out_of_class` applies around a single published structure. A prototype known from a
single element or compound thus varies by that margin around it. Parameters are drawn
independently of each other. A6 has two disjoint ranges (In near the fcc ratio, Pa near the bcc
one; the same AFLOW prototype), drawn uniformly over their union, so that no A6 structure is bcc
or fcc. c/a of L1_0 is that of the face-centred cell (1 = the undistorted fcc parent); the
structure is built in its primitive tP2 cell. Rhombohedral structures give c/a on hexagonal axes,
A10 its rhombohedral angle (degrees).

Sources. Wyckoff positions and settings follow the Strukturbericht designation and the AFLOW
Library of Crystallographic Prototypes (M. J. Mehl et al., Comput. Mater. Sci. 136, S1 (2017);
D. Hicks et al., Comput. Mater. Sci. 161, S1 (2019) and 199, 110450 (2021)); the parameter values
are those each entry's ``reference`` names. "A&M" is the table of elemental structures of N. W.
Ashcroft and N. D. Mermin, Solid State Physics (1976), as :data:`ase.data.reference_states`
carries it (it gives La, Pr and Nd the c/a of half their double-hcp cell).

==================  ======  =======  ===  =====  ===================================================
name                SB      Pearson  SG   atoms  free parameters: range (published values behind it)
==================  ======  =======  ===  =====  ===================================================
A1_Cu               A1      cF4      225      1  none
A2_W                A2      cI2      229      1  none
A3_Mg               A3      hP2      194      2  c/a 1.551..1.905 (the hcp metals of A&M: Be 1.567,
                                                 Ho/Er/Tm 1.57 ... Zn 1.856, Cd 1.886)
A4_diamond          A4      cF8      227      2  none
A5_beta-Sn          A5      tI4      141      2  c/a 0.5405..0.5515 (Sn 0.546, A&M)
A6_In               A6      tI2      139      1  c/a 0.8167..0.8332 or 1.506..1.537 (Pa 0.825,
                                                 In 1.522, A&M)
A7_alpha-As         A7      hR2      166      2  c/a 2.583..2.833 (Bi 2.609, Sb 2.617, As 2.805);
                                                 z 0.2243..0.2369 (As 0.2273, Sb 0.2335, Bi 0.2339)
A8_gamma-Se         A8      hP3      152      3  c/a 1.123..1.344 (Se 1.1345, Te 1.3302);
                                                 x 0.2224..0.2663 (Se 0.2254, Te 0.2633)
A9_graphite         A9      hP4      194      4  c/a 2.696..2.751 (graphite 2.724)
A10_alpha-Hg        A10     hR1      166      1  alpha 69.75..71.15 deg (Hg 70.45, A&M)
A11_alpha-Ga        A11     oC8       64      4  b/a 1.678..1.712, c/a 0.9914..1.011,
                                                 y 0.1509..0.1569, z 0.0768..0.0828 (Ga)
A12_alpha-Mn        A12     cI58     217     29  x2 0.3149..0.3209, x3 -0.09258..-0.08658,
                                                 z3 0.2789..0.2849, x4 0.6399..0.6459,
                                                 z4 0.03157..0.03757 (Mn)
A15_beta-W          A15     cP8      223      8  none
A20_alpha-U         A20     oC4       63      2  b/a 2.036..2.077, c/a 1.719..1.754,
                                                 y 0.0995..0.1055 (U)
Ah_alpha-Po         Ah      cP1      221      1  none
dhcp_alpha-La       A3'     hP4      194      4  c/a 3.196..3.27 (Pr, Nd 3.228, La 3.238, A&M)
C19_alpha-Sm        C19     hR3      166      3  c/a 7.206..7.352 (Sm 7.279, A&M);
                                                 z 0.219..0.225 (Sm 0.222)
lonsdaleite         (none)  hP4      194      4  c/a 1.619..1.651 (C 1.635);
                                                 z 0.0595..0.0655 (the ideal 1/16)
B1_NaCl             B1      cF8      225      2  none
B2_CsCl             B2      cP2      221      2  none
B3_ZnS              B3      cF8      216      2  none
B4_ZnO              B4      hP4      186      4  c/a 1.585..1.643 (AlN 1.601, ZnO 1.602, GaN 1.627);
                                                 u 0.374..0.3855 (GaN 0.377, AlN 0.382, ZnO 0.3825)
B8_1_NiAs           B8_1    hP4      194      4  c/a 1.377..1.634 (NiAs 1.391, NiS 1.556, MnTe 1.618)
C1_CaF2             C1      cF12     225      3  none
L1_0_CuAu           L1_0    tP2      123      2  c/a of the fcc cell 0.9169..1.026 (CuAu 0.926,
                                                 FePt 0.964, TiAl 1.016)
L1_2_Cu3Au          L1_2    cP4      221      4  none
D0_3_BiF3           D0_3    cF16     225      4  none
C15_MgCu2           C15     cF24     227      6  none
C32_AlB2            C32     hP3      191      3  c/a 1.055..1.153 (TiB2 1.066, AlB2 1.084,
                                                 MgB2 1.142)
Bh_WC               B_h     hP2      187      2  c/a 0.9665..0.986 (WC 0.976)
------------------  ------  -------  ---  -----  ---------------------------------------------------
C4_TiO2             C4      tP6      136      6  c/a 0.6377..0.6793 (TiO2 0.6441, GeO2 0.6511,
                                                 SnO2 0.6726); x 0.3018..0.3091 (TiO2 0.3048,
                                                 SnO2 0.3056, GeO2 0.3061)
C14_MgZn2           C14     hP12     194     12  c/a 1.624..1.657 (MgZn2 1.641); z 0.0599..0.0659
                                                 (0.0629); x 0.8275..0.8335 (0.8305)
==================  ======  =======  ===  =====  ===================================================

(SB: Strukturbericht designation; atoms: atoms per primitive cell; below the dashed line the
prototypes of :data:`HELD_OUT`. Ranges are rounded here; the exact ones are
:attr:`Prototype.ranges`.)

For a binary, ``symbols[0]`` takes the role of the first species of the name (Na in NaCl, Zn in
ZnO, Cu in Cu3Au, Bi in BiF3, Mg in MgCu2, W in WC ...). Built with the two species equal, some
binaries are a higher-symmetry element structure (B1 is sc, B2 bcc, B3 diamond, L1_2 fcc, D0_3
bcc, B4 lonsdaleite): their geometry is the same, and only the difference of the two form factors
tells them apart, which vanishes as the atomic numbers approach each other. The classes hold
binaries whose :func:`contrast` is at least :data:`MIN_CONTRAST`: below it the order does not show
in a diffraction pattern (see :data:`MIN_CONTRAST`).

:data:`EXTENDED_CLASSES` are the 30 classes the extended model trains on; :data:`HELD_OUT`
(rutile and the hexagonal Laves phase) are built the same way but never trained on: structures the
model should answer ``unknown`` for. Lengths are in Angstrom, angles in degrees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols, covalent_radii
from ase.spacegroup import crystal

from .structures import nearest_neighbour_distances

#: margin around the published values of a ratio (c/a, b/a) or angle: relative
RATIO_MARGIN = 0.01
#: margin around the published values of a fractional Wyckoff coordinate: absolute
COORDINATE_MARGIN = 0.003
#: free parameters that are ratios or angles (all others are fractional coordinates)
RATIO_PARAMETERS = frozenset({"b_over_a", "c_over_a", "alpha"})

#: largest difference of atomic numbers drawn for a binary
MAX_DELTA_Z = 60

#: smallest scattering contrast (see :func:`contrast`) of a binary the extended classes hold. An
#: ordered binary on the sites of an element structure (B2 on bcc, B1 on sc, B3 on diamond, L1_2
#: and D0_3 on fcc and bcc, B4 on lonsdaleite) differs from it only by superstructure reflections,
#: whose intensity relative to the fundamental ones is about contrast squared: 2 % at 0.15. Below
#: that the pair diffracts as the element structure does (X-rays do not tell CuZn's B2 order from
#: bcc, nor GaAs from diamond), so its fingerprint cannot name the order and the classes do not
#: claim to: such a binary is not drawn, and its answer is measured apart (``bench_extended.py``).
MIN_CONTRAST = 0.15

#: published structures of single elements that :mod:`paper_lib.out_of_class` builds too (its
#: format: a in Angstrom, ratios b/a and c/a, fractional Wyckoff coordinates). Sources: beta-W and
#: alpha-Mn as in AFLOW's A15 and A12 entries; trigonal Se: Cherin and Unger, Inorg. Chem. 6, 1589
#: (1967); Te: Adenis, Langer and Lindqvist, Acta Cryst. C45, 941 (1989); alpha-U: Barrett, Mueller
#: and Hitterman, Phys. Rev. 129, 625 (1963); alpha-Ga: Sharma and Donohue, Z. Kristallogr. 117,
#: 293 (1962).
PUBLISHED = {
    "beta-W": {"a": 5.036, "b/a": 1.0, "c/a": 1.0},
    "alpha-Mn": {"a": 8.911, "b/a": 1.0, "c/a": 1.0, "x2": 0.31787, "x3": -0.08958, "z3": 0.28194,
                 "x4": 0.64294, "z4": 0.03457},
    "Se": {"a": 4.3662, "b/a": 1.0, "c/a": 1.13454, "x": 0.2254},
    "Te": {"a": 4.4572, "b/a": 1.0, "c/a": 1.33021, "x": 0.2633},
    "alpha-U": {"a": 2.8537, "b/a": 2.05684, "c/a": 1.73627, "y": 0.1025},
    "alpha-Ga": {"a": 4.5192, "b/a": 1.69468, "c/a": 1.00146, "y": 0.1539, "z": 0.0798},
}


# --------------------------------------------------------------------------------------------
# Cells: lattice parameters (a = 1) from the free parameters
# --------------------------------------------------------------------------------------------

def _cubic(p: dict) -> list[float]:
    return [1.0, 1.0, 1.0, 90.0, 90.0, 90.0]


def _tetragonal(p: dict) -> list[float]:
    return [1.0, 1.0, p["c_over_a"], 90.0, 90.0, 90.0]


def _face_centred_tetragonal(p: dict) -> list[float]:
    """The primitive tetragonal cell (a / sqrt 2) of a face-centred one whose c/a is given."""
    return [1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0), p["c_over_a"], 90.0, 90.0, 90.0]


def _hexagonal(p: dict) -> list[float]:
    return [1.0, 1.0, p["c_over_a"], 90.0, 90.0, 120.0]


def _orthorhombic(p: dict) -> list[float]:
    return [1.0, p["b_over_a"], p["c_over_a"], 90.0, 90.0, 90.0]


def _rhombohedral_angle(p: dict) -> list[float]:
    """Hexagonal axes of the rhombohedral lattice of unit edge and angle ``alpha`` (degrees)."""
    alpha = math.radians(p["alpha"])
    return [2 * math.sin(alpha / 2), 2 * math.sin(alpha / 2), math.sqrt(3 * (1 + 2 * math.cos(alpha))),
            90.0, 90.0, 120.0]


def hexagonal_c_over_a(alpha: float) -> float:
    """c/a on hexagonal axes of a rhombohedral lattice of angle ``alpha`` (degrees)."""
    a_hex, _, c_hex = _rhombohedral_angle({"alpha": alpha})[:3]
    return c_hex / a_hex


def _spread(families: tuple[dict, ...], relative: bool) -> tuple[tuple[float, float], ...]:
    """The ranges of a parameter: per family of published values, its minimum and maximum widened
    by the margin; overlapping ranges merge."""
    out = []
    for values in families:
        low, high = min(values.values()), max(values.values())
        if relative:
            low, high = low * (1 - RATIO_MARGIN), high * (1 + RATIO_MARGIN)
        else:
            low, high = low - COORDINATE_MARGIN, high + COORDINATE_MARGIN
        out.append((low, high))
    merged: list[tuple[float, float]] = []
    for low, high in sorted(out):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


# --------------------------------------------------------------------------------------------
# Prototypes
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prototype:
    """A structure type of the extended library.

    ``roles`` are the species of the prototype's formula (``("Na", "Cl")``); ``sites(params)``
    gives, for the free parameters ``params``, the Wyckoff representatives as ``(role index,
    (x, y, z))`` in the setting ``setting`` of space group ``spacegroup``; ``cellpar(params)`` the
    lattice parameters for a = 1. ``free`` maps each free parameter to its families of published
    values (compound: value), from which :attr:`ranges` follow. ``sites_per_primitive``: atoms in
    the primitive cell.
    """

    name: str
    strukturbericht: str
    pearson: str
    spacegroup: int
    species: int
    description: str
    reference: str
    roles: tuple[str, ...]
    sites_per_primitive: int
    cellpar: Callable[[dict], list]
    sites: Callable[[dict], list]
    free: dict = field(default_factory=dict)
    setting: int = 1

    @property
    def ranges(self) -> dict[str, tuple[tuple[float, float], ...]]:
        """Each free parameter's ranges (one or more disjoint intervals), dimensionless (the
        rhombohedral angle ``alpha`` in degrees)."""
        return {key: _spread(families, key in RATIO_PARAMETERS) for key, families in self.free.items()}

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """Free parameters drawn uniformly from their ranges (over the union where there are several)."""
        params = {}
        for key, intervals in self.ranges.items():
            u = rng.uniform(0.0, sum(high - low for low, high in intervals))
            for low, high in intervals:          # u walks along the intervals laid end to end
                if u <= high - low:
                    break
                u -= high - low
            params[key] = float(low + u)
        return params

    def cell(self, symbols: tuple[str, ...], nn: float, params: dict) -> Atoms:
        """The primitive periodic cell for the free parameters ``params``, with ``symbols`` on the
        prototype's roles, scaled so that its shortest interatomic distance is ``nn`` Angstrom."""
        symbols = tuple(symbols)
        if len(symbols) != self.species:
            raise ValueError(f"{self.name} needs {self.species} species ({', '.join(self.roles)}), "
                             f"got {len(symbols)}: {symbols}")
        if not nn > 0:
            raise ValueError(f"the nearest-neighbour distance must be positive, got {nn}")
        sites = self.sites(params)
        atoms = crystal([symbols[role] for role, _ in sites], [xyz for _, xyz in sites],
                        spacegroup=self.spacegroup, setting=self.setting, cellpar=self.cellpar(params),
                        primitive_cell=True, onduplicates="error", pbc=True)
        shortest = float(nearest_neighbour_distances(atoms).min())
        atoms.set_cell(atoms.cell.array * (nn / shortest), scale_atoms=True)
        return atoms

    def build(self, symbols: tuple[str, ...], nn: float, rng: np.random.Generator) -> tuple[Atoms, dict]:
        """Primitive periodic cell with ``symbols`` on the prototype's species roles (for a binary,
        ``symbols[0]`` is the first species of the name), free parameters drawn uniformly from
        their ranges with ``rng``, the whole cell scaled so that the shortest interatomic distance
        is exactly ``nn`` Angstrom. Returns ``(atoms, params)``, ``params`` the drawn free
        parameters by name (dimensionless; ``alpha`` in degrees)."""
        params = self.draw(rng)
        return self.cell(symbols, nn, params), params


def _aflow(label: str) -> str:
    return f"AFLOW prototype {label} (Mehl et al., Comput. Mater. Sci. 136, S1 (2017))"


_AM = "Ashcroft and Mermin, Solid State Physics (1976), as in ase.data.reference_states"

_MN, _SE, _TE, _U, _GA = (PUBLISHED[k] for k in ("alpha-Mn", "Se", "Te", "alpha-U", "alpha-Ga"))

_ELEMENTS = (
    Prototype(
        "A1_Cu", "A1", "cF4", 225, 1, "face-centred cubic (Cu)",
        f"Strukturbericht A1; {_aflow('A_cF4_225_a')}: 4a (0,0,0)",
        ("Cu",), 1, _cubic, lambda p: [(0, (0, 0, 0))]),
    Prototype(
        "A2_W", "A2", "cI2", 229, 1, "body-centred cubic (W)",
        f"Strukturbericht A2; {_aflow('A_cI2_229_a')}: 2a (0,0,0)",
        ("W",), 1, _cubic, lambda p: [(0, (0, 0, 0))]),
    Prototype(
        "A3_Mg", "A3", "hP2", 194, 1, "hexagonal close-packed (Mg)",
        f"Strukturbericht A3; {_aflow('A_hP2_194_c')}: 2c (1/3,2/3,1/4); c/a of the hcp metals in {_AM}",
        ("Mg",), 2, _hexagonal, lambda p: [(0, (1 / 3, 2 / 3, 0.25))],
        {"c_over_a": ({"Be": 1.567, "Mg": 1.624, "Sc": 1.594, "Ti": 1.588, "Co": 1.622, "Zn": 1.856,
                       "Y": 1.571, "Zr": 1.593, "Tc": 1.604, "Ru": 1.584, "Cd": 1.886, "Gd": 1.588,
                       "Tb": 1.581, "Dy": 1.573, "Ho": 1.57, "Er": 1.57, "Tm": 1.57, "Lu": 1.585,
                       "Hf": 1.582, "Re": 1.615, "Os": 1.579, "Tl": 1.599},)}),
    Prototype(
        "A4_diamond", "A4", "cF8", 227, 1, "diamond (C, Si, Ge, alpha-Sn)",
        f"Strukturbericht A4; {_aflow('A_cF8_227_a')}: 8a (0,0,0), origin choice 1",
        ("C",), 2, _cubic, lambda p: [(0, (0, 0, 0))]),
    Prototype(
        "A5_beta-Sn", "A5", "tI4", 141, 1, "beta-Sn (white tin): body-centred tetragonal, 4 atoms per cell",
        f"Strukturbericht A5; {_aflow('A_tI4_141_a')}: 4a (0,0,0), origin choice 1; c/a of Sn in {_AM}",
        ("Sn",), 2, _tetragonal, lambda p: [(0, (0, 0, 0))],
        {"c_over_a": ({"Sn": 0.546},)}),
    Prototype(
        "A6_In", "A6", "tI2", 139, 1,
        "body-centred tetragonal, one atom per cell: In (A6, c/a near the fcc ratio sqrt 2) and "
        "alpha-Pa (Aa, near the bcc ratio 1)",
        f"Strukturbericht A6 and Aa, one prototype in {_aflow('A_tI2_139_a')}: 2a (0,0,0); c/a of In "
        f"and Pa in {_AM}",
        ("In",), 1, _tetragonal, lambda p: [(0, (0, 0, 0))],
        {"c_over_a": ({"In": 1.5217}, {"Pa": 0.825})}),
    Prototype(
        "A7_alpha-As", "A7", "hR2", 166, 1, "alpha-As (As, Sb, Bi): puckered double layers",
        f"Strukturbericht A7; {_aflow('A_hR2_166_c')}: 6c (0,0,z) on hexagonal axes; As: Schiferl and "
        "Barrett, J. Appl. Cryst. 2, 30 (1969); Sb: Barrett, Cucka and Haefner, Acta Cryst. 16, 451 "
        "(1963); Bi: Cucka and Barrett, Acta Cryst. 15, 865 (1962) (room temperature)",
        ("As",), 2, _hexagonal, lambda p: [(0, (0, 0, p["z"]))],
        {"c_over_a": ({"As": 2.8054, "Sb": 2.6168, "Bi": 2.6093},),
         "z": ({"As": 0.22727, "Sb": 0.23349, "Bi": 0.23389},)}),
    Prototype(
        "A8_gamma-Se", "A8", "hP3", 152, 1, "trigonal Se and Te: helical chains along c",
        f"Strukturbericht A8; {_aflow('A_hP3_152_a')}: 3a (x,0,1/3); Se and Te as in PUBLISHED",
        ("Se",), 3, _hexagonal, lambda p: [(0, (p["x"], 0, 1 / 3))],
        {"c_over_a": ({"Se": _SE["c/a"], "Te": _TE["c/a"]},), "x": ({"Se": _SE["x"], "Te": _TE["x"]},)}),
    Prototype(
        "A9_graphite", "A9", "hP4", 194, 1, "hexagonal graphite: flat honeycomb layers, AB stacking",
        f"Strukturbericht A9; {_aflow('A_hP4_194_bc')}: 2b (0,0,1/4), 2c (1/3,2/3,1/4); a = 2.464 A, "
        "c = 6.711 A: Trucano and Chen, Nature 258, 136 (1975)",
        ("C",), 4, _hexagonal, lambda p: [(0, (0, 0, 0.25)), (0, (1 / 3, 2 / 3, 0.25))],
        {"c_over_a": ({"C": 6.711 / 2.464},)}),
    Prototype(
        "A10_alpha-Hg", "A10", "hR1", 166, 1, "alpha-Hg: rhombohedral, one atom per cell",
        f"Strukturbericht A10; {_aflow('A_hR1_166_a')}: 3a (0,0,0); rhombohedral angle of Hg in {_AM}",
        ("Hg",), 1, _rhombohedral_angle, lambda p: [(0, (0, 0, 0))],
        {"alpha": ({"Hg": 70.45},)}),
    Prototype(
        "A11_alpha-Ga", "A11", "oC8", 64, 1, "alpha-Ga: Ga2 dimers in a buckled orthorhombic network",
        f"Strukturbericht A11; {_aflow('A_oC8_64_f')}: 8f (0,y,z); Ga as in PUBLISHED",
        ("Ga",), 4, _orthorhombic, lambda p: [(0, (0, p["y"], p["z"]))],
        {"b_over_a": ({"Ga": _GA["b/a"]},), "c_over_a": ({"Ga": _GA["c/a"]},),
         "y": ({"Ga": _GA["y"]},), "z": ({"Ga": _GA["z"]},)}),
    Prototype(
        "A12_alpha-Mn", "A12", "cI58", 217, 1, "alpha-Mn: body-centred cubic cell of 58 atoms on four sites",
        f"Strukturbericht A12; {_aflow('A_cI58_217_ac2g')}: 2a (0,0,0), 8c (x,x,x), 24g (x,x,z) twice; "
        "Mn as in PUBLISHED",
        ("Mn",), 29, _cubic,
        lambda p: [(0, (0, 0, 0)), (0, (p["x2"], p["x2"], p["x2"])), (0, (p["x3"], p["x3"], p["z3"])),
                   (0, (p["x4"], p["x4"], p["z4"]))],
        {key: ({"Mn": _MN[key]},) for key in ("x2", "x3", "z3", "x4", "z4")}),
    Prototype(
        "A15_beta-W", "A15", "cP8", 223, 1, "beta-W (Cr3Si type): chains along the cube axes, 8 atoms per cell",
        f"Strukturbericht A15; {_aflow('A3B_cP8_223_c_a')} with one species: 2a (0,0,0), 6c (1/4,0,1/2)",
        ("W",), 8, _cubic, lambda p: [(0, (0, 0, 0)), (0, (0.25, 0, 0.5))]),
    Prototype(
        "A20_alpha-U", "A20", "oC4", 63, 1, "alpha-U: corrugated layers, a distorted hcp",
        f"Strukturbericht A20; {_aflow('A_oC4_63_c')}: 4c (0,y,1/4); U as in PUBLISHED",
        ("U",), 2, _orthorhombic, lambda p: [(0, (0, p["y"], 0.25))],
        {"b_over_a": ({"U": _U["b/a"]},), "c_over_a": ({"U": _U["c/a"]},), "y": ({"U": _U["y"]},)}),
    Prototype(
        "Ah_alpha-Po", "Ah", "cP1", 221, 1, "simple cubic (alpha-Po)",
        f"Strukturbericht Ah; {_aflow('A_cP1_221_a')}: 1a (0,0,0)",
        ("Po",), 1, _cubic, lambda p: [(0, (0, 0, 0))]),
    Prototype(
        "dhcp_alpha-La", "A3'", "hP4", 194, 1, "double hcp (alpha-La; also Pr, Nd, Am): stacking ABAC",
        f"Strukturbericht A3'; {_aflow('A_hP4_194_ac')}: 2a (0,0,0), 2c (1/3,2/3,1/4); c/a twice the "
        f"half-cell values of La, Pr, Nd in {_AM}",
        ("La",), 4, _hexagonal, lambda p: [(0, (0, 0, 0)), (0, (1 / 3, 2 / 3, 0.25))],
        {"c_over_a": ({"La": 2 * 1.619, "Pr": 2 * 1.614, "Nd": 2 * 1.614},)}),
    Prototype(
        "C19_alpha-Sm", "C19", "hR3", 166, 1, "alpha-Sm: close-packed, nine-layer stacking",
        f"Strukturbericht C19 (alpha-Sm); {_aflow('A_hR3_166_ac')}: 3a (0,0,0), 6c (0,0,z) on hexagonal "
        f"axes; Sm (a = 9.00 A, rhombohedral angle 23.13 deg, z = 0.222) in {_AM}",
        ("Sm",), 3, _hexagonal, lambda p: [(0, (0, 0, 0)), (0, (0, 0, p["z"]))],
        {"c_over_a": ({"Sm": hexagonal_c_over_a(23.13)},), "z": ({"Sm": 0.222},)}),
    Prototype(
        "lonsdaleite", "", "hP4", 194, 1, "hexagonal diamond (lonsdaleite): diamond's bonds, hcp's stacking",
        f"no Strukturbericht designation; {_aflow('A_hP4_194_f')}: 4f (1/3,2/3,z), ideal z = 1/16; "
        "a = 2.52 A, c = 4.12 A: Bundy and Kasper, J. Chem. Phys. 46, 3437 (1967)",
        ("C",), 4, _hexagonal, lambda p: [(0, (1 / 3, 2 / 3, p["z"]))],
        {"c_over_a": ({"C": 4.12 / 2.52},), "z": ({"ideal": 1 / 16},)}),
)

_BINARIES = (
    Prototype(
        "B1_NaCl", "B1", "cF8", 225, 2, "rock salt",
        f"Strukturbericht B1; {_aflow('AB_cF8_225_a_b')}: Na 4a (0,0,0), Cl 4b (1/2,1/2,1/2)",
        ("Na", "Cl"), 2, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))]),
    Prototype(
        "B2_CsCl", "B2", "cP2", 221, 2, "caesium chloride (ordered bcc)",
        f"Strukturbericht B2; {_aflow('AB_cP2_221_a_b')}: Cs 1a (0,0,0), Cl 1b (1/2,1/2,1/2)",
        ("Cs", "Cl"), 2, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))]),
    Prototype(
        "B3_ZnS", "B3", "cF8", 216, 2, "zincblende (sphalerite; ordered diamond)",
        f"Strukturbericht B3; {_aflow('AB_cF8_216_a_c')}: Zn 4a (0,0,0), S 4c (1/4,1/4,1/4)",
        ("Zn", "S"), 2, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.25, 0.25, 0.25))]),
    Prototype(
        "B4_ZnO", "B4", "hP4", 186, 2, "wurtzite (ZnO, GaN, AlN, ZnS): ordered lonsdaleite",
        f"Strukturbericht B4; {_aflow('AB_hP4_186_b_b')}: Zn 2b (1/3,2/3,0), O 2b (1/3,2/3,u); ZnO: "
        "Abrahams and Bernstein, Acta Cryst. B25, 1233 (1969); AlN, GaN: Schulz and Thiemann, "
        "Solid State Commun. 23, 815 (1977)",
        ("Zn", "O"), 4, _hexagonal, lambda p: [(0, (1 / 3, 2 / 3, 0)), (1, (1 / 3, 2 / 3, p["u"]))],
        {"c_over_a": ({"ZnO": 5.2069 / 3.2495, "AlN": 4.980 / 3.110, "GaN": 5.189 / 3.190},),
         "u": ({"ZnO": 0.3825, "AlN": 0.382, "GaN": 0.377},)}),
    Prototype(
        "B8_1_NiAs", "B8_1", "hP4", 194, 2, "nickeline: Ni in the octahedral holes of hcp As",
        f"Strukturbericht B8_1; {_aflow('AB_hP4_194_c_a')}: Ni 2a (0,0,0), As 2c (1/3,2/3,1/4); c/a "
        "of NiAs (a = 3.619 A, c = 5.034 A, the AFLOW entry), NiS (3.4395 A, 5.3514 A: Trahan, "
        "Goodrich and Watkins, Phys. Rev. B 2, 2859 (1970)) and MnTe (4.148 A, 6.711 A)",
        ("Ni", "As"), 4, _hexagonal, lambda p: [(0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.25))],
        {"c_over_a": ({"NiAs": 5.034 / 3.619, "NiS": 5.3514 / 3.4395, "MnTe": 6.711 / 4.148},)}),
    Prototype(
        "C1_CaF2", "C1", "cF12", 225, 2, "fluorite",
        f"Strukturbericht C1; {_aflow('AB2_cF12_225_a_c')}: Ca 4a (0,0,0), F 8c (1/4,1/4,1/4)",
        ("Ca", "F"), 3, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.25, 0.25, 0.25))]),
    Prototype(
        "L1_0_CuAu", "L1_0", "tP2", 123, 2, "CuAu I: alternating (001) layers of an fcc crystal",
        f"Strukturbericht L1_0; {_aflow('AB_tP2_123_a_d')}: Cu 1a (0,0,0), Au 1d (1/2,1/2,1/2) in the "
        "primitive cell (a / sqrt 2); c/a of the face-centred cell: CuAu (a = 3.966 A, c = 3.673 A), "
        "FePt (3.852 A, 3.713 A), TiAl (4.005 A, 4.070 A)",
        ("Cu", "Au"), 2, _face_centred_tetragonal, lambda p: [(0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))],
        {"c_over_a": ({"CuAu": 3.673 / 3.966, "FePt": 3.713 / 3.852, "TiAl": 4.070 / 4.005},)}),
    Prototype(
        "L1_2_Cu3Au", "L1_2", "cP4", 221, 2, "Cu3Au: ordered fcc, Au on the cube corners",
        f"Strukturbericht L1_2; {_aflow('AB3_cP4_221_a_c')}: Cu 3c (0,1/2,1/2), Au 1a (0,0,0)",
        ("Cu", "Au"), 4, _cubic, lambda p: [(0, (0, 0.5, 0.5)), (1, (0, 0, 0))]),
    Prototype(
        "D0_3_BiF3", "D0_3", "cF16", 225, 2, "BiF3 (Fe3Al, Cu3Al): ordered bcc",
        f"Strukturbericht D0_3; {_aflow('AB3_cF16_225_a_bc')}: Bi 4a (0,0,0), F 4b (1/2,1/2,1/2) "
        "and 8c (1/4,1/4,1/4)",
        ("Bi", "F"), 4, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.5, 0.5, 0.5)), (1, (0.25, 0.25, 0.25))]),
    Prototype(
        "C15_MgCu2", "C15", "cF24", 227, 2, "cubic Laves phase: Mg diamond lattice, Cu tetrahedra",
        f"Strukturbericht C15; {_aflow('A2B_cF24_227_d_a')}: Mg 8a (0,0,0), Cu 16d (5/8,5/8,5/8), "
        "origin choice 1",
        ("Mg", "Cu"), 6, _cubic, lambda p: [(0, (0, 0, 0)), (1, (0.625, 0.625, 0.625))]),
    Prototype(
        "C32_AlB2", "C32", "hP3", 191, 2, "AlB2: graphite-like B layers between Al layers",
        f"Strukturbericht C32; {_aflow('AB2_hP3_191_a_d')}: Al 1a (0,0,0), B 2d (1/3,2/3,1/2); c/a "
        "of AlB2 (a = 3.005 A, c = 3.257 A), TiB2 (3.029 A, 3.229 A) and MgB2 (3.086 A, 3.524 A: "
        "Nagamatsu et al., Nature 410, 63 (2001))",
        ("Al", "B"), 3, _hexagonal, lambda p: [(0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.5))],
        {"c_over_a": ({"AlB2": 3.257 / 3.005, "TiB2": 3.229 / 3.029, "MgB2": 3.524 / 3.086},)}),
    Prototype(
        "Bh_WC", "B_h", "hP2", 187, 2, "tungsten carbide: simple hexagonal W with C in trigonal prisms",
        f"Strukturbericht B_h; {_aflow('AB_hP2_187_d_a')}: W 1a (0,0,0), C 1d (1/3,2/3,1/2); WC: "
        "a = 2.906 A, c = 2.837 A",
        ("W", "C"), 2, _hexagonal, lambda p: [(0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.5))],
        {"c_over_a": ({"WC": 2.837 / 2.906},)}),
)

_HELD_OUT = (
    Prototype(
        "C4_TiO2", "C4", "tP6", 136, 2, "rutile: Ti in edge-sharing O octahedra chains along c",
        f"Strukturbericht C4; {_aflow('A2B_tP6_136_f_a')}: Ti 2a (0,0,0), O 4f (x,x,0); TiO2, SnO2, GeO2: "
        "Bolzan, Fong, Kennedy and Howard, Acta Cryst. B53, 373 (1997)",
        ("Ti", "O"), 6, _tetragonal, lambda p: [(0, (0, 0, 0)), (1, (p["x"], p["x"], 0))],
        {"c_over_a": ({"TiO2": 0.6441, "SnO2": 0.6726, "GeO2": 0.6511},),
         "x": ({"TiO2": 0.3048, "SnO2": 0.3056, "GeO2": 0.3061},)}),
    Prototype(
        "C14_MgZn2", "C14", "hP12", 194, 2, "hexagonal Laves phase",
        f"Strukturbericht C14; {_aflow('AB2_hP12_194_f_ah')}: Mg 4f (1/3,2/3,z), Zn 2a (0,0,0) and "
        "6h (x,2x,1/4); MgZn2 (a = 5.221 A, c = 8.567 A, z = 0.0629, x = 0.8305): Komura and "
        "Tokunaga, Acta Cryst. B36, 1548 (1980)",
        ("Mg", "Zn"), 12, _hexagonal,
        lambda p: [(0, (1 / 3, 2 / 3, p["z"])), (1, (0, 0, 0)), (1, (p["x"], 2 * p["x"], 0.25))],
        {"c_over_a": ({"MgZn2": 8.567 / 5.221},), "z": ({"MgZn2": 0.0629},), "x": ({"MgZn2": 0.8305},)}),
)

#: every prototype of the library, by name
EXTENDED: dict[str, Prototype] = {p.name: p for p in _ELEMENTS + _BINARIES + _HELD_OUT}

#: the classes the extended model trains on: 18 elemental and 12 binary prototypes
EXTENDED_CLASSES: tuple[str, ...] = tuple(p.name for p in _ELEMENTS + _BINARIES)

#: prototypes built like the others but never trained on (the model should call them unknown)
HELD_OUT: tuple[str, ...] = tuple(p.name for p in _HELD_OUT)


# --------------------------------------------------------------------------------------------
# Elements and length scale
# --------------------------------------------------------------------------------------------

def default_elements() -> tuple[int, ...]:
    """The atomic numbers drawn from by default: those of the presets' ``elements: all``."""
    from .config import _elements     # here, not above: the presets may come to name these classes

    return _elements("all", "paper_lib.prototypes")


def _atomic_number(element) -> int:
    from .config import MAX_Z_INPUT

    z = atomic_numbers[element] if isinstance(element, str) else int(element)
    if not 1 <= z <= MAX_Z_INPUT:
        raise ValueError(f"element {element!r}: Z must be within 1-{MAX_Z_INPUT} (the form-factor table)")
    return z


def contrast(symbols) -> float:
    """The scattering contrast of a binary, |f_A - f_B| / (f_A + f_B) with the forward form factors
    f = Z + :data:`paper_lib.diffraction.Z_SHIFT` of the fingerprint (dimensionless, 0 to 1; 0 for
    one species). Superstructure reflections are about its square as bright as fundamental ones."""
    from .diffraction import Z_SHIFT

    z = [_atomic_number(s) + Z_SHIFT for s in symbols]
    if len(z) == 1:
        return 0.0
    if len(z) != 2:
        raise ValueError(f"one or two species expected, got {tuple(symbols)}")
    return abs(z[0] - z[1]) / (z[0] + z[1])


def draw_symbols(proto: Prototype, rng: np.random.Generator, elements=None,
                 min_contrast: float = MIN_CONTRAST) -> tuple[str, ...]:
    """Elements for one structure of ``proto``.

    ``elements``: atomic numbers or symbols to draw from (default :func:`default_elements`, the
    presets' ``elements: all``, H to Pu). An element prototype gets one of them, uniformly. A
    binary gets two distinct ones whose :func:`contrast` is at least ``min_contrast`` (default
    :data:`MIN_CONTRAST`): their difference dZ = |Z_A - Z_B| is drawn log-uniformly over 1 to
    :data:`MAX_DELTA_Z` (each integer dZ with the weight of [dZ, dZ + 1) under a density
    proportional to 1/dZ, among the differences the elements and the contrast allow), so that
    similar and very dissimilar pairs are both common (small dZ among light elements only: the
    contrast needs it); then a pair with that difference uniformly, and which of the two is Z_A
    at random.
    """
    from .diffraction import Z_SHIFT

    zs = np.array(sorted({_atomic_number(e) for e in (default_elements() if elements is None else elements)}))
    if proto.species == 1:
        return (chemical_symbols[int(rng.choice(zs))],)
    if proto.species != 2:
        raise ValueError(f"{proto.name}: only element and binary prototypes are supported")
    low, high = np.meshgrid(zs, zs, indexing="ij")
    dz_all = high - low
    ok = (dz_all >= 1) & (dz_all <= MAX_DELTA_Z) & (dz_all >= min_contrast * (low + high + 2 * Z_SHIFT) - 1e-12)
    allowed = np.unique(dz_all[ok])
    if not len(allowed):
        raise ValueError(f"a binary needs two elements at most {MAX_DELTA_Z} apart in Z with a scattering "
                         f"contrast of at least {min_contrast:g}, got {zs.tolist()}")
    weights = np.log((allowed + 1) / allowed)
    dz = int(rng.choice(allowed, p=weights / weights.sum()))
    z_a = int(rng.choice(low[ok & (dz_all == dz)]))
    pair = (z_a, z_a + dz) if rng.random() < 0.5 else (z_a + dz, z_a)
    return tuple(chemical_symbols[z] for z in pair)


def nn_for(symbols) -> float:
    """A physical nearest-neighbour distance (Angstrom) for ``symbols``: twice the covalent radius
    for an element, the sum of the two covalent radii for a binary (ASE's covalent radii)."""
    radii = [float(covalent_radii[_atomic_number(s)]) for s in symbols]
    if len(radii) == 1:
        return 2 * radii[0]
    if len(radii) == 2:
        return radii[0] + radii[1]
    raise ValueError(f"one or two species expected, got {tuple(symbols)}")


# --------------------------------------------------------------------------------------------
# Dataset structures
# --------------------------------------------------------------------------------------------

def pristine_prototype(name: str, elements, target_atoms: int, rng: np.random.Generator, max_tries: int = 50,
                       preprocessing: str = "crystal_frame_wide") -> tuple[Atoms, dict]:
    """One pristine structure of prototype ``name`` (a key of :data:`EXTENDED`) as a dataset stores it,
    and its record: the elements drawn by :func:`draw_symbols` from ``elements`` (atomic numbers),
    the free parameters from their ranges, the cell at the physical nearest-neighbour distance
    (:func:`nn_for`). The cell must show the prototype's space group to spglib at every tolerance of
    :data:`paper_lib.structures.CHECK_SYMPRECS`, or it is drawn again (at most ``max_tries`` times).
    It then becomes the cluster of :func:`paper_lib.preprocessing.dataset_cluster` for
    ``preprocessing`` (unit nearest-neighbour distance, in the crystal's standard frame).

    The record: ``label`` and ``label8`` (the prototype's name: every prototype is its own class),
    ``prototype``, ``spacegroup``, ``element`` (the symbols joined by ``-``, species A first),
    ``z_a`` and ``z_b`` (0 for an element), ``nn_distance`` (Angstrom, before scaling) and the
    drawn free parameters.
    """
    from .preprocessing import dataset_cluster
    from .structures import CHECK_SYMPRECS, spacegroup_number

    proto = EXTENDED[name]
    for _ in range(max_tries):
        symbols = draw_symbols(proto, rng, elements)
        nn = nn_for(symbols)
        cell, params = proto.build(symbols, nn, rng)
        if all(spacegroup_number(cell, symprec=p) == proto.spacegroup for p in CHECK_SYMPRECS):
            break
    else:
        raise RuntimeError(f"no structure of prototype {name} passed the spglib check in {max_tries} tries")
    cluster = dataset_cluster(cell, target_atoms, rng, preprocessing)
    numbers = [atomic_numbers[s] for s in symbols]
    record = {"label": name, "label8": name, "prototype": name, "spacegroup": proto.spacegroup,
              "element": "-".join(symbols), "z_a": numbers[0], "z_b": numbers[1] if len(numbers) > 1 else 0,
              "nn_distance": nn, **params}
    return cluster, record
