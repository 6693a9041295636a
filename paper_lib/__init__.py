"""Crystal-structure classification from diffraction fingerprints (Ziletti et al., Nat. Commun. 2018).

``ase.Atoms`` (or a pymatgen ``Structure``) in, symmetry class out. One module per stage of the data flow:
:mod:`~paper_lib.structures` (prototypes, pre-processing), :mod:`~paper_lib.defects`,
:mod:`~paper_lib.diffraction` (the fingerprint), :mod:`~paper_lib.io` (files),
:mod:`~paper_lib.model` (network, training, ``classify``), :mod:`~paper_lib.evaluation`,
:mod:`~paper_lib.plotting`, :mod:`~paper_lib.config` (presets), :mod:`~paper_lib.cli`.
"""
from .diffraction import detector_intensity, fingerprint, fingerprints

__version__ = "0.1.0"
__all__ = ["classify", "fingerprint", "fingerprints", "detector_intensity", "__version__"]


def classify(structures, model=None, **kwargs):
    """Classify an ``ase.Atoms`` or pymatgen ``Structure``/``Molecule`` (or a list) with a trained
    model, by default the shipped one.

    See :func:`paper_lib.model.classify`; TensorFlow is imported on the first call.
    """
    from .model import classify as _classify

    return _classify(structures, model, **kwargs)
