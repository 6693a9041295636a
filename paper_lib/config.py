"""Presets (``config/*.yaml``): loading and validation.

A preset describes one run of the data flow: which classes, how many pristine structures, which
defect levels. Every key is checked here, before any work starts: an unknown key, a missing key or an
impossible value raises :class:`ConfigError` naming the file and the key.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .paths import UnsafeName, safe_name
from .structures import CLASSES_7, CLASSES_8

MAX_Z_INPUT = 96  # the IT92 table ends at Cf (98) and atomic numbers are raised by two


class ConfigError(ValueError):
    """A preset file that cannot be used, with the file and the key in the message."""


@dataclass(frozen=True)
class Preset:
    """A validated preset. Percentages (``displacements``, ``vacancies``) are in %.

    ``preprocessing``: how structures become the clusters fingerprints see
    (:data:`paper_lib.preprocessing.METHODS`; ``paper2018`` when the preset does not say).
    ``baseline_sample``: how many pristine structures (a class-stratified, seeded sample) the
    symmetry-finder baselines see, each with all its defective variants; None = all of them.
    ``training_seeds``: the network is trained once per seed, all on the same validation split
    (that of ``seed``), so that every accuracy comes with its seed-to-seed spread; the first is
    the main model. A preset gives a count N (the seeds ``seed``, ``seed + 1``, ...) or a list that
    starts with ``seed`` (default: ``seed`` alone).
    ``local_atoms``, ``local_seed``: the size (atoms) and seed of the synthetic polycrystals of the
    local-map comparison (``local_maps`` in a preset; None: no local maps).
    ``class_set``: ``paper`` (the paper's seven classes, or eight with ``split_hex_rh``) or
    ``extended`` (every prototype of :data:`paper_lib.prototypes.EXTENDED_CLASSES` its own class).
    ``intensity``: the fingerprint's intensity scale (:data:`paper_lib.diffraction.INTENSITY_SCALES`;
    ``linear``, the paper's, when the preset does not say). It does not change the structures.
    """

    name: str
    seed: int
    split_hex_rh: bool
    counts: dict[str, int]
    elements: tuple[int, ...]
    target_atoms: int
    displacements: tuple[float, ...]
    vacancies: tuple[float, ...]
    fraction_of_pristine: float
    shards: int
    baseline_sample: int | None = None
    preprocessing: str = "paper2018"
    training_seeds: tuple[int, ...] = ()
    local_atoms: int | None = None
    local_seed: int = 0
    class_set: str = "paper"
    intensity: str = "linear"
    source: str = "<dict>"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def classes(self) -> tuple[str, ...]:
        return class_names(self.class_set, self.split_hex_rh)

    @property
    def n_pristine(self) -> int:
        return sum(self.counts.values())

    def digest(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical preset, for provenance."""
        text = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def dataset_digest(self) -> str:
        """SHA-256 (first 16 hex digits) of what makes the pristine structures: seed, classes,
        counts, elements, cluster size and pre-processing. Two presets with the same dataset digest
        give pristine structure ``sid`` the same, whatever their names, shards or defect levels:
        the pair (dataset digest, sid) identifies a pristine structure."""
        keys = {"seed": self.seed, "split_hex_rh": self.split_hex_rh, "counts": self.counts,
                "elements": list(self.elements), "target_atoms": self.target_atoms,
                "preprocessing": self.preprocessing}
        if self.class_set != "paper":          # the paper's presets keep the digests they always had
            keys["class_set"] = self.class_set
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


_SCHEMA: dict[str, Any] = {
    "preset": str,
    "seed": int,
    "split_hex_rh": bool,
    "pristine": {"counts": dict, "elements": (str, list), "target_atoms": int},
    "defects": {"displacements": list, "vacancies": list, "fraction_of_pristine": (int, float)},
    "shards": int,
    "baselines": {"pristine_sample": (int, type(None))},
    "preprocessing": str,
    "training_seeds": (int, list),
    "local_maps": {"atoms": int, "seed": int},
    "classes": str,
    "intensity": str,
}


#: keys a preset may leave out, with the value they then take
_OPTIONAL = {"preprocessing": "paper2018", "training_seeds": None, "local_maps": None, "classes": "paper",
             "intensity": "linear"}

#: the class sets a preset may name (``classes``)
CLASS_SETS = ("paper", "extended")


def class_names(class_set: str, split_hex_rh: bool = False) -> tuple[str, ...]:
    """The class labels of a class set: the paper's seven (eight with ``split_hex_rh``), or the
    extended library's prototypes (:data:`paper_lib.prototypes.EXTENDED_CLASSES`)."""
    if class_set == "extended":
        from .prototypes import EXTENDED_CLASSES

        return EXTENDED_CLASSES
    return CLASSES_8 if split_hex_rh else CLASSES_7


def _check_keys(section: dict, schema: dict, where: str, source: str) -> None:
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: '{where or 'top level'}' must be a mapping of keys")
    for key in section:
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"{source}: unknown key '{name}'{hint}; allowed: {', '.join(schema)}")
    for key, kind in schema.items():
        name = f"{where}.{key}" if where else key
        if key not in section and not where and key in _OPTIONAL:
            continue
        if key not in section:
            raise ConfigError(f"{source}: missing key '{name}'")
        value = section[key]
        if isinstance(kind, dict):
            _check_keys(value, kind, name, source)
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{source}: '{name}' must be an integer, got {value!r}")
        elif kind is not int and not isinstance(value, kind):
            raise ConfigError(f"{source}: '{name}' has the wrong type ({type(value).__name__})")


def _elements(value, source: str) -> tuple[int, ...]:
    from ase.data import atomic_numbers

    if value == "all":
        return tuple(range(1, 95))  # H .. Pu
    if isinstance(value, str) or not value:
        raise ConfigError(f"{source}: 'pristine.elements' must be 'all' or a non-empty list of symbols")
    out = []
    for symbol in value:
        if symbol not in atomic_numbers or atomic_numbers[symbol] == 0:
            raise ConfigError(f"{source}: 'pristine.elements' has an unknown element {symbol!r}")
        z = atomic_numbers[symbol]
        if z > MAX_Z_INPUT:
            raise ConfigError(f"{source}: element {symbol} (Z={z}) is beyond the form-factor table "
                              f"(Z + 2 must be at most 98)")
        out.append(z)
    return tuple(out)


def _levels(values: list, name: str, upper: float, source: str) -> tuple[float, ...]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{source}: '{name}' must hold numbers (in %), got {v!r}")
        if not 0 < v < upper:
            raise ConfigError(f"{source}: '{name}' level {v} % is impossible (must be > 0 and < {upper:g} %)")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise ConfigError(f"{source}: '{name}' lists a level twice")
    return tuple(sorted(out))


def validate(raw: dict, source: str = "<dict>") -> Preset:
    """Check a preset mapping and return a :class:`Preset`; raises :class:`ConfigError`."""
    _check_keys(raw, _SCHEMA, "", source)
    class_set = raw.get("classes", _OPTIONAL["classes"])
    if class_set not in CLASS_SETS:
        raise ConfigError(f"{source}: 'classes' must be one of {', '.join(CLASS_SETS)}, got {class_set!r}")
    if class_set == "extended" and raw["split_hex_rh"]:
        raise ConfigError(f"{source}: 'split_hex_rh' must be false with 'classes: extended' (its prototypes are "
                          "classes of their own: hcp, alpha-Hg, alpha-As and alpha-Sm are apart already)")
    classes = class_names(class_set, raw["split_hex_rh"])
    counts = raw["pristine"]["counts"]
    for label, n in counts.items():
        if class_set == "extended" and label not in classes:
            from .prototypes import HELD_OUT

            why = (" (held out: never trained on, it tests that an unseen prototype comes back unknown)"
                   if label in HELD_OUT else "")
            raise ConfigError(f"{source}: unknown class '{label}' in 'pristine.counts'{why}; the extended "
                              f"classes: {', '.join(classes)}")
        if label not in classes:
            split = "true" if label in CLASSES_8 else "false"
            hint = (f" (with split_hex_rh: {raw['split_hex_rh']}; it needs split_hex_rh: {split})"
                    if label in CLASSES_7 + CLASSES_8 else "")
            raise ConfigError(f"{source}: unknown class '{label}' in 'pristine.counts'{hint}; "
                              f"classes: {', '.join(classes)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{source}: 'pristine.counts.{label}' must be a count >= 0, got {n!r}")
    if sum(counts.values()) == 0:
        raise ConfigError(f"{source}: 'pristine.counts' asks for zero structures")
    target = raw["pristine"]["target_atoms"]
    if not 2 <= target <= 20000:
        raise ConfigError(f"{source}: 'pristine.target_atoms' must be between 2 and 20000, got {target}")
    fraction = raw["defects"]["fraction_of_pristine"]
    if not 0 <= fraction <= 1:
        raise ConfigError(f"{source}: 'defects.fraction_of_pristine' must be in [0, 1], got {fraction}")
    if raw["shards"] < 1:
        raise ConfigError(f"{source}: 'shards' must be at least 1, got {raw['shards']}")
    sample = raw["baselines"]["pristine_sample"]
    if sample is not None and (isinstance(sample, bool) or sample < 1):
        raise ConfigError(f"{source}: 'baselines.pristine_sample' must be a count >= 1 or null (all), got {sample!r}")
    from .preprocessing import METHODS

    preprocessing = raw.get("preprocessing", _OPTIONAL["preprocessing"])
    if preprocessing not in METHODS:
        raise ConfigError(f"{source}: 'preprocessing' must be one of {', '.join(METHODS)}, got {preprocessing!r}")
    from .diffraction import INTENSITY_SCALES

    intensity = raw.get("intensity", _OPTIONAL["intensity"])
    if intensity not in INTENSITY_SCALES:
        raise ConfigError(f"{source}: 'intensity' must be one of {', '.join(INTENSITY_SCALES)}, got {intensity!r}")
    if raw["seed"] < 0:
        raise ConfigError(f"{source}: 'seed' must be >= 0, got {raw['seed']}")
    seeds = raw.get("training_seeds")
    if seeds is None:
        seeds = [raw["seed"]]
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= 100:
            raise ConfigError(f"{source}: 'training_seeds' as a count must be between 1 and 100, got {seeds}")
        seeds = [raw["seed"] + k for k in range(seeds)]
    if (not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ConfigError(f"{source}: 'training_seeds' must list different integers >= 0, got {seeds!r}")
    if seeds[0] != raw["seed"]:
        raise ConfigError(f"{source}: 'training_seeds' must start with the preset's seed ({raw['seed']}: the main "
                          f"model), got {seeds!r}")
    local_maps = raw.get("local_maps")
    if local_maps is not None and not 1_000 <= local_maps["atoms"] <= 10_000_000:
        raise ConfigError(f"{source}: 'local_maps.atoms' must be between 1,000 and 10,000,000, got {local_maps['atoms']}")
    try:   # the name becomes results/<name>, figures/<name>, executed/<name>
        safe_name(raw["preset"], "preset name", f"{source}: 'preset'")
    except UnsafeName as exc:
        raise ConfigError(str(exc)) from None
    return Preset(
        name=raw["preset"],
        seed=raw["seed"],
        split_hex_rh=raw["split_hex_rh"],
        counts={label: counts.get(label, 0) for label in classes},
        elements=_elements(raw["pristine"]["elements"], source),
        target_atoms=target,
        displacements=_levels(raw["defects"]["displacements"], "defects.displacements", 100.0, source),
        vacancies=_levels(raw["defects"]["vacancies"], "defects.vacancies", 100.0, source),
        fraction_of_pristine=float(fraction),
        shards=raw["shards"],
        baseline_sample=sample,
        preprocessing=preprocessing,
        training_seeds=tuple(seeds),
        local_atoms=None if local_maps is None else local_maps["atoms"],
        local_seed=0 if local_maps is None else local_maps["seed"],
        class_set=class_set,
        intensity=intensity,
        source=source,
        raw=raw,
    )


def load(path: str | Path) -> Preset:
    """Read and validate a preset file (YAML)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such preset file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if raw is None:
        raise ConfigError(f"{path}: the preset file is empty")
    return validate(raw, str(path))
