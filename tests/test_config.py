"""Presets: the shipped ones load; bad ones stop with a message naming the key."""
from pathlib import Path

import pytest
import yaml

from paper_lib import config

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_presets_are_valid():
    quick = config.load(ROOT / "config" / "quick.yaml")
    paper = config.load(ROOT / "config" / "paper.yaml")
    assert quick.name == "quick" and paper.name == "paper"
    assert paper.n_pristine == 10517
    assert paper.counts == {"bcc": 2601, "bct_139": 221, "bct_141": 842, "diam": 910, "fcc": 2761,
                            "hex/rh": 3178, "sc": 4}
    assert paper.displacements == (0.1, 0.6, 1, 2, 4, 5, 10, 20)
    assert paper.vacancies == (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70)
    n_total = paper.n_pristine * (1 + len(paper.displacements) + len(paper.vacancies))
    assert n_total > 100_000
    assert quick.n_pristine < paper.n_pristine
    assert quick.training_seeds == paper.training_seeds == (2018, 2019, 2020)


def _with(raw, path, value):
    raw = yaml.safe_load(yaml.safe_dump(raw))
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return raw


#: (key path, a bad value, what paper_lib.config's message says)
BAD_VALUES = [
    (("pristine", "counts", "bcx"), 3, "unknown class 'bcx'"),
    (("pristine", "counts", "hex"), 3, "split_hex_rh"),
    (("defects", "vacancies"), [10, 100], "impossible"),
    (("defects", "vacancies"), [120], "impossible"),
    (("defects", "displacements"), [-1], "impossible"),
    (("defects", "displacements"), ["a"], "numbers"),
    (("defects", "fraction_of_pristine"), 1.5, "fraction_of_pristine"),
    (("pristine", "target_atoms"), 1, "target_atoms"),
    (("pristine", "elements"), ["Xx"], "unknown element"),
    (("pristine", "elements"), ["Es"], "form-factor"),
    (("shards",), 0, "shards"),
    (("seed",), "one", "integer"),
    (("baselines", "pristine_sample"), 0, "pristine_sample"),
    (("baselines", "pristine_sample"), "all", "pristine_sample"),
    (("training_seeds",), [12345, 8], "must start with the preset.s seed"),
    (("training_seeds",), "7", "wrong type"),
    (("training_seeds",), 0, "count must be between"),
]


@pytest.mark.parametrize("path, value, message", BAD_VALUES)
def test_bad_values_are_named(tiny_preset_dict, path, value, message):
    with pytest.raises(config.ConfigError, match=message):
        config.validate(_with(tiny_preset_dict, path, value), "bad.yaml")


def test_training_seeds(tiny_preset_dict):
    assert config.validate(tiny_preset_dict).training_seeds == (tiny_preset_dict["seed"],)    # default: one
    seed = tiny_preset_dict["seed"]
    assert config.validate(_with(tiny_preset_dict, ("training_seeds",), [seed, 5])).training_seeds == (seed, 5)
    assert config.validate(_with(tiny_preset_dict, ("training_seeds",), 3)).training_seeds == (seed, seed + 1, seed + 2)
    # a count follows the seed: `snakemake --config seed=N` keeps a valid preset
    assert config.validate(_with(_with(tiny_preset_dict, ("training_seeds",), 2), ("seed",), 40)).training_seeds == (40, 41)
    for bad in ([seed, seed], [seed, -1], [seed, True], []):
        with pytest.raises(config.ConfigError, match="training_seeds"):
            config.validate(_with(tiny_preset_dict, ("training_seeds",), bad), "bad.yaml")


def test_seed_spread_folds_the_seeds_of_a_method():
    import pandas as pd

    from paper_lib.evaluation import seed_spread

    accuracy = pd.DataFrame({"method": ["cnn", "cnn_seed2", "cnn_seed3", "ptm"], "defect": ["vacancies"] * 4,
                             "level": [10.0] * 4, "n": [50] * 4, "accuracy": [90.0, 94.0, 98.0, 70.0]})
    out = seed_spread(accuracy).set_index("method")
    assert out.loc["cnn", "accuracy"] == 94.0 and out.loc["cnn", "accuracy_sd"] == 4.0 and out.loc["cnn", "seeds"] == 3
    assert out.loc["ptm", "accuracy"] == 70.0 and out.loc["ptm", "seeds"] == 1 and pd.isna(out.loc["ptm", "accuracy_sd"])
    missing = accuracy.assign(accuracy=[90.0, float("nan"), 80.0, 70.0])         # a seed without a value there
    out = seed_spread(missing).set_index("method")
    assert out.loc["cnn", "accuracy"] == 85.0 and out.loc["cnn", "seeds"] == 2


def test_zero_structures(tiny_preset_dict):
    raw = _with(tiny_preset_dict, ("pristine", "counts"), {"fcc": 0})
    with pytest.raises(config.ConfigError, match="zero structures"):
        config.validate(raw)


def test_unknown_and_missing_keys(tiny_preset_dict, tmp_path):
    raw = dict(tiny_preset_dict)
    raw["shard"] = raw.pop("shards")
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(config.ConfigError, match=r"typo.yaml: unknown key 'shard' \(did you mean 'shards'\?\)"):
        config.load(path)
    raw = _with(tiny_preset_dict, ("defects",), {"vacancies": [1], "displacements": [1]})
    with pytest.raises(config.ConfigError, match="missing key 'defects.fraction_of_pristine'"):
        config.validate(raw)


def test_unreadable_files(tmp_path):
    with pytest.raises(config.ConfigError, match="no such preset"):
        config.load(tmp_path / "absent.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(config.ConfigError, match="empty"):
        config.load(tmp_path / "empty.yaml")
    (tmp_path / "broken.yaml").write_text("seed: [1,\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(tmp_path / "broken.yaml")


# --- the workflow's JSON schema (workflow/schemas/config.schema.yaml) says what paper_lib.config says ---
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
#: what JSON Schema cannot say (it has no way to compare two values of a preset)
PYTHON_ONLY = {"must start with the preset.s seed"}


def schema_errors(raw) -> list[str]:
    """The schema's complaints about a preset mapping (none: it is valid)."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(raw)]


def good_presets() -> dict[str, dict]:
    """The shipped presets and those the tests write (conftest's tiny preset, the kill/resume test's,
    the workflow tests' quick preset with small local maps), and the optional keys' other forms."""
    from conftest import tiny_preset

    presets = {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "config").glob("*.yaml"))}
    tiny = tiny_preset()
    presets["tiny"] = tiny
    presets["tiny, kill/resume"] = dict(tiny, shards=3, pristine=dict(tiny["pristine"],
                                                                      counts={k: 6 for k in tiny["pristine"]["counts"]}))
    presets["quick, small local maps"] = _with(presets["quick.yaml"], ("local_maps", "atoms"), 6000)
    presets["tiny, two seeds"] = _with(tiny, ("training_seeds",), [tiny["seed"], 5])
    presets["tiny, eight classes"] = _with(_with(tiny, ("split_hex_rh",), True), ("pristine", "counts"),
                                           {"hex": 2, "rh": 1, "sc": 0})
    presets["tiny, elements"] = _with(_with(tiny, ("pristine", "elements"), ["Fe", "Cu", "Cm"]),
                                      ("preprocessing",), "crystal_frame")
    return presets


@pytest.mark.parametrize("name", list(good_presets()))
def test_the_schema_accepts_every_preset_config_accepts(name):
    raw = good_presets()[name]
    config.validate(raw, name)
    assert schema_errors(raw) == [], name


def test_snakemake_reads_the_schema():
    """What the Snakefile runs, on the shipped presets: nothing added to the preset (no defaults)."""
    utils = pytest.importorskip("snakemake.utils")
    for path in sorted((ROOT / "config").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        before = yaml.safe_dump(raw)
        utils.validate(raw, str(SCHEMA), set_default=False)
        assert yaml.safe_dump(raw) == before, path
    with pytest.raises(Exception, match="shards"):
        utils.validate(_with(config_raw("quick.yaml"), ("shards",), 0), str(SCHEMA), set_default=False)


def config_raw(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("path, value, message", BAD_VALUES + [
    (("shard",), 2, "unknown key 'shard'"),
    (("defects", "vacancy"), [1], "unknown key 'defects.vacancy'"),
    (("pristine", "counts"), {"fcc": 0}, "zero structures"),
    (("pristine", "counts"), {}, "zero structures"),
    (("pristine", "counts", "fcc"), -1, "count >= 0"),
    (("pristine", "counts", "fcc"), True, "count >= 0"),
    (("pristine", "elements"), "some", "'all' or a non-empty list"),
    (("pristine", "elements"), [], "'all' or a non-empty list"),
    (("pristine", "target_atoms"), 20001, "target_atoms"),
    (("defects", "vacancies"), [10, 10.0], "twice"),
    (("defects", "displacements"), [0], "impossible"),
    (("defects", "fraction_of_pristine"), -0.1, "fraction_of_pristine"),
    (("split_hex_rh",), "no", "wrong type"),
    (("seed",), -1, "'seed' must be >= 0"),
    (("seed",), True, "integer"),
    (("shards",), 2.5, "integer"),
    (("baselines", "pristine_sample"), True, "pristine_sample"),
    (("preprocessing",), "raw", "'preprocessing' must be one of"),
    (("intensity",), "sqrt", "'intensity' must be one of linear, log"),
    (("training_seeds",), 101, "count must be between"),
    (("training_seeds",), [7, 7], "training_seeds"),
    (("training_seeds",), [7, -1], "training_seeds"),
    (("training_seeds",), [], "training_seeds"),
    (("training_seeds",), None, "wrong type"),
    (("local_maps",), {"atoms": 999, "seed": 1}, "local_maps.atoms"),
    (("local_maps",), {"atoms": 5000}, "missing key 'local_maps.seed'"),
    (("local_maps",), None, "must be a mapping"),
    (("preset",), "../elsewhere", "cannot be used in a file name"),
    (("preset",), "a..b", "cannot be used in a file name"),
    (("preset",), "-x", "cannot be used in a file name"),
    (("preset",), "x" * 101, "cannot be used in a file name"),
])
def test_the_schema_rejects_what_config_rejects(tiny_preset_dict, path, value, message):
    raw = _with(tiny_preset_dict, path, value)
    with pytest.raises(config.ConfigError, match=message):
        config.validate(raw, "bad.yaml")
    if message in PYTHON_ONLY:
        assert schema_errors(raw) == [], f"{message}: the schema says it now; take it out of PYTHON_ONLY"
    else:
        assert schema_errors(raw), f"the schema accepts {'.'.join(path)} = {value!r}"


def test_the_schema_and_config_know_the_same_keys_and_names():
    """Keys, required keys, element symbols, class names, pre-processing methods and the preset
    name's pattern: one list each in paper_lib, the same in the schema."""
    from ase.data import chemical_symbols

    from paper_lib.paths import SAFE_NAME
    from paper_lib.preprocessing import METHODS
    from paper_lib.structures import CLASSES_7, CLASSES_8

    schema = yaml.safe_load(SCHEMA.read_text())

    def keys(python, node):
        assert set(node["properties"]) == set(python) and node["additionalProperties"] is False, node
        for key, kind in python.items():
            if isinstance(kind, dict):
                keys(kind, node["properties"][key])
                assert set(node["properties"][key]["required"]) == set(kind), key

    keys(config._SCHEMA, schema)
    assert set(schema["required"]) == set(config._SCHEMA) - set(config._OPTIONAL)
    properties = schema["properties"]
    [_, listed] = properties["pristine"]["properties"]["elements"]["oneOf"]
    assert listed["items"]["enum"] == chemical_symbols[1:config.MAX_Z_INPUT + 1]
    assert properties["preprocessing"]["enum"] == list(METHODS)
    from paper_lib.prototypes import EXTENDED_CLASSES

    paper = schema["else"]
    counts = [branch["properties"]["pristine"]["properties"]["counts"]["propertyNames"]["enum"]
              for branch in (schema["then"], paper["then"], paper["else"])]
    assert schema["if"] == {"properties": {"classes": {"const": "extended"}}, "required": ["classes"]}
    assert paper["if"] == {"properties": {"split_hex_rh": {"const": True}}}
    assert counts == [list(EXTENDED_CLASSES), list(CLASSES_8), list(CLASSES_7)]
    assert properties["classes"]["enum"] == list(config.CLASS_SETS)
    assert properties["preset"]["pattern"] == f"^{SAFE_NAME.pattern}$"


def test_the_layout_names_each_shard_of_the_run_and_no_other(tmp_path, tiny_preset_dict):
    """paper_lib.paths.Layout: a preset's three folders, and its fingerprint files by name from the
    run's own preset.yaml: a shard left from an earlier run in more shards is not read."""
    from paper_lib.paths import Layout, UnsafeName

    layout = Layout("tiny", tmp_path)
    assert (layout.results, layout.figures, layout.executed) == (
        tmp_path / "results" / "tiny", tmp_path / "figures" / "tiny", tmp_path / "executed" / "tiny")
    assert str(Layout("quick").fingerprint_shard("{shard}")) == "results/quick/fingerprints/shard-{shard}.h5"
    layout.preset_file.parent.mkdir(parents=True)
    layout.preset_file.write_text(yaml.safe_dump(dict(tiny_preset_dict, shards=2)))
    (layout.results / "fingerprints").mkdir()
    for k in range(3):                                      # shard-002.h5: from a run in three shards
        layout.fingerprint_shard(f"{k:03d}").write_text("")
    assert layout.fingerprint_shards() == [layout.results / "fingerprints" / f"shard-00{k}.h5" for k in (0, 1)]
    assert len(layout.fingerprint_shards(3)) == 3
    for bad in ("../elsewhere", "/tmp/x", "a b"):
        with pytest.raises(UnsafeName, match="preset name"):
            Layout(bad)


# --- the extended class set ---

def _extended(tiny):
    from paper_lib.prototypes import EXTENDED_CLASSES

    raw = dict(tiny, classes="extended", preprocessing="crystal_frame_wide")
    return _with(raw, ("pristine", "counts"), {name: 1 for name in EXTENDED_CLASSES})


def test_the_extended_preset_is_balanced_and_leaves_the_papers_digests_alone():
    from paper_lib.prototypes import EXTENDED_CLASSES

    extended = config.load(ROOT / "config" / "extended.yaml")
    assert extended.classes == EXTENDED_CLASSES and len(extended.classes) >= 30
    assert max(extended.counts.values()) <= 2 * min(extended.counts.values())
    assert extended.preprocessing == "crystal_frame_wide" and extended.intensity == "log"
    assert config.load(ROOT / "config" / "robust.yaml").intensity == "linear"       # left out: the paper's
    # the intensity scale is the fingerprint's, not the structures': the dataset digest ignores it
    assert config.validate(dict(config_raw("extended.yaml"), intensity="linear")).dataset_digest() \
        == extended.dataset_digest()
    # the class-set key enters a preset's dataset digest only when it is not the paper's: the
    # structures of the paper's presets keep the identity they were made with
    assert config.load(ROOT / "config" / "paper.yaml").dataset_digest() == "6848eb7ace693168"
    assert config.load(ROOT / "config" / "quick.yaml").dataset_digest() == "02b1b64f647b3c7a"
    assert extended.dataset_digest() != config.validate(dict(config_raw("extended.yaml"), seed=1)).dataset_digest()


@pytest.mark.parametrize("change, message", [
    (("pristine", "counts", "C4_TiO2"), "held out"),
    (("pristine", "counts", "fcc"), "unknown class 'fcc'"),
    (("split_hex_rh",), "split_hex_rh"),
    (("classes",), "must be one of paper, extended"),
])
def test_bad_extended_presets_are_named(tiny_preset_dict, change, message):
    raw = _extended(tiny_preset_dict)
    value = {"split_hex_rh": True, "classes": "all"}.get(change[-1], 3)
    bad = _with(raw, change, value)
    with pytest.raises(config.ConfigError, match=message):
        config.validate(bad)
    assert schema_errors(bad)


def test_the_schema_knows_the_extended_classes(tiny_preset_dict):
    from paper_lib.prototypes import EXTENDED_CLASSES

    schema = yaml.safe_load(SCHEMA.read_text())
    assert tuple(schema["then"]["properties"]["pristine"]["properties"]["counts"]["propertyNames"]["enum"]) \
        == EXTENDED_CLASSES
    raw = _extended(tiny_preset_dict)
    assert config.validate(raw).classes == EXTENDED_CLASSES and schema_errors(raw) == []
