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


@pytest.mark.parametrize("path, value, message", [
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
])
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
