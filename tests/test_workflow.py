"""The workflow's files: Snakefile lint, profiles, a config typo, Binder's build plan, notebooks."""
import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from conftest import BIN, ROOT, snakemake, workflow_copy

pytestmark = pytest.mark.skipif(not (BIN / "snakemake").exists(), reason="workflow extra not installed")


def test_lint_is_clean():
    result = snakemake(ROOT, "--lint", "--cores", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout, result.stdout


@pytest.mark.parametrize("args, jobs", [
    (["--cores", "2"], None),
    (["--workflow-profile", "profiles/slurm"], None),
    (["--workflow-profile", "profiles/paper", "--cores", "64"], 3 * 32 + 11 + 2 * 2 + 5),  # 3 sharded stages, 2 extra seeds, 4 local maps + figures
])
def test_dry_runs_parse(args, jobs, tmp_path):
    # a scratch copy: the job count must not depend on results already in this checkout
    workflow_copy(tmp_path)
    result = snakemake(tmp_path, "-n", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    if jobs is not None:
        assert f"total {jobs}" in " ".join(result.stdout.split()), result.stdout


def test_an_extended_preset_is_sent_to_its_script(tmp_path):
    """The workflow's baselines and figures know the paper's classes: a preset of the extended class
    set stops before any job, naming the script that runs it."""
    workflow_copy(tmp_path)
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", "config/extended.yaml")
    assert result.returncode != 0
    assert "scripts/train_extended_model.sh" in result.stdout + result.stderr


def test_a_preset_file_is_the_whole_preset(tmp_path, tiny_preset_dict):
    """--configfile replaces the default preset instead of being merged into it: a preset without
    training_seeds trains one network, even though config/quick.yaml lists three."""
    import yaml

    workflow_copy(tmp_path)
    (tmp_path / "config" / "tiny.yaml").write_text(yaml.safe_dump(tiny_preset_dict))
    one = snakemake(tmp_path, "-n", "--cores", "2", "--configfile", "config/tiny.yaml")
    assert one.returncode == 0, one.stdout + one.stderr
    assert "train_seed" not in one.stdout and "rule train:" in one.stdout
    three = snakemake(tmp_path, "-n", "--cores", "2")                        # config/quick.yaml
    assert three.returncode == 0 and " ".join(three.stdout.split()).count("rule train_seed:") == 2


@pytest.mark.skipif(shutil.which("sbatch") is None, reason="SLURM client not installed")
def test_slurm_profile_parses_outside_a_dry_run(tmp_path):
    # a real (non-dry) run has no total core count under a cluster executor; the local rule
    # `preset` runs without submitting anything, so no SLURM daemon is needed
    workflow_copy(tmp_path)
    result = snakemake(tmp_path, "--workflow-profile", "profiles/slurm", "--until", "preset")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "results" / "quick" / "preset.yaml").exists()


def test_config_typo_stops_before_any_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config" / "quick.yaml").read_text().replace("shards:", "shard:"))
    result = snakemake(ROOT, "-n", "--cores", "1", "--configfile", str(bad))
    assert result.returncode != 0
    assert "unknown key 'shard'" in result.stdout + result.stderr


def test_notebooks_are_clean_and_parameterised():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb["cells"] if c["cell_type"] == "code"), f"{path} has stored outputs"


@pytest.mark.skipif(shutil.which("repo2docker", path=str(BIN)) is None, reason="repo2docker not installed")
def test_binder_build_plan():
    result = subprocess.run([str(BIN / "repo2docker"), "--no-build", "--debug", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    plan = result.stdout + result.stderr
    assert result.returncode == 0, plan
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in plan
    assert "./binder/postBuild" in plan
    assert "python=3.11" in plan                        # binder/runtime.txt, not the root files
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    # Binder installs the lock (pinned, the versions CI tests) and the project, nothing unpinned; the -r path is
    # relative to binder/, so pip must run once the whole repository is in the image (repo2docker copies it
    # first when the file has local references)
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == ["-r ../requirements/lock-linux-x86_64-py311.txt", "-e .[all]"]
    assert (ROOT / "requirements" / "lock-linux-x86_64-py311.txt").exists()
    copy_repo, install = "COPY --chown=0:0 src/ ${REPO_DIR}/", 'pip install --no-cache-dir -r "binder/requirements.txt"'
    assert plan.index(copy_repo) < plan.index(install)


#: the README's Binder badge: [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/...)
BINDER_BADGE = re.compile(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((https://mybinder\.org/v2/[^)\s]+)\)")


def test_binder_opens_the_explorer_on_the_shipped_model():
    """The README's Binder badge opens notebooks/04_explorer.ipynb in JupyterLab, and that notebook,
    unparameterised as Binder opens it, explores the shipped sample with the shipped model (not a
    preset's results, which a Binder image may not have)."""
    badges = BINDER_BADGE.findall((ROOT / "README.md").read_text())
    assert len(badges) == 1, f"README.md: expected one Binder badge, found {badges}"
    url = urllib.parse.urlsplit(badges[0])
    assert url.path.startswith("/v2/gh/") and url.path.endswith("/HEAD"), badges[0]
    query = urllib.parse.parse_qs(url.query)
    if "labpath" in query:                               # JupyterLab, the notebook given by its path
        notebook = query["labpath"][0]
    else:
        urlpath = query.get("urlpath", [""])[0]
        assert urlpath.startswith("lab/tree/"), f"{badges[0]}: does not open JupyterLab (urlpath=lab/tree/...)"
        notebook = urlpath.removeprefix("lab/tree/")
    assert notebook == "notebooks/04_explorer.ipynb" and (ROOT / notebook).is_file(), badges[0]

    nb = json.loads((ROOT / notebook).read_text())
    [parameters] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    defaults = {}
    exec("".join(parameters["source"]), {}, defaults)    # the notebook's own parameter cell
    assert defaults == {"preset": None, "results": None}, defaults
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code" and c is not parameters)
    assert "Explorer(preset, results=results)" in code
    # the explorer's default: the sample and the model shipped inside the package (paper_lib/data)
    widgets = (ROOT / "paper_lib" / "widgets.py").read_text()
    assert 'SAMPLE = Path(__file__).with_name("data") / "explorer"' in widgets
    assert (ROOT / "paper_lib" / "data" / "model.keras").is_file()
    for name in ("fingerprints.h5", "structures.db"):
        assert (ROOT / "paper_lib" / "data" / "explorer" / name).is_file(), name
    # and they are package data, so that an installed (not editable) package has them too
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = [g for g in package_data.get("paper_lib", []) if g.startswith("data/explorer/")]
    globs += [f"data/explorer/{g}" for g in package_data.get("paper_lib.data.explorer", [])]
    for name in ("fingerprints.h5", "structures.db"):
        assert any(Path(f"data/explorer/{name}").match(g) for g in globs), \
            f"pyproject.toml: paper_lib/data/explorer/{name} is not package data ({globs})"
