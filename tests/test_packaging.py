"""Install and environments (docs/install.md): the dependencies resolve from PyPI wheels on macOS arm64 and
Linux aarch64; the lock pins every dependency and is what make install and Binder install; environment.yml is a
conda-forge (+ bioconda) environment without test tools."""
import json
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock-linux-x86_64-py311.txt"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])
CORE = [Requirement(spec) for spec in PROJECT["dependencies"]]
EXTRAS = {extra: [Requirement(spec) for spec in specs] for extra, specs in PROJECT["optional-dependencies"].items()}
TEST_TOOLS = ({r.name for r in EXTRAS["test"]}
              | {"pytest", "pytest-xdist", "hypothesis", "playwright", "jupyter-repo2docker", "repo2docker", "bandit",
                 "nbmake", "nbval", "pytest-cov", "coverage", "tox", "nox", "cffconvert"})

# pip --platform takes tags literally (a manylinux_2_28 tag does not admit a manylinux_2_27 wheel), so Linux
# aarch64 lists each glibc from 2.17 (manylinux2014) to 2.28 (RHEL 8, Debian 10); macOS expands by itself.
PLATFORMS = {
    "macos-arm64": ["--platform", "macosx_14_0_arm64"],
    "linux-aarch64": ["--platform", "manylinux2014_aarch64",
                      *[arg for glibc in range(17, 29) for arg in ("--platform", f"manylinux_2_{glibc}_aarch64")]],
}


def lock_requirements(path=LOCK):
    """The requirement lines of a pip requirements file, without comments and `# via` annotations."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def lock_pins(path=LOCK):
    """{canonical name: version} of a lock file; every line must be `name==version`."""
    pins = {}
    for line in lock_requirements(path):
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==" and not req.url and not req.marker, line
        assert canonicalize_name(req.name) not in pins, f"{req.name} pinned twice"
        pins[canonicalize_name(req.name)] = spec[0].version
    return pins


def pypi_unreachable():
    """None when PyPI answers, else why not."""
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15) as response:
            response.read(1)
        return None
    except OSError as error:
        return f"PyPI cannot be reached from here ({error}): no resolution to check"


def pip_report(tmp_path, *args):
    """`pip install --dry-run --report` with this interpreter's pip; the parsed report, {name: version}."""
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                             "--report", str(report), *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, "\n".join(errors) or result.stdout + result.stderr
    installs = json.loads(report.read_text())["install"]
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}


@pytest.mark.slow
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_core_dependencies_resolve_from_wheels(platform, tmp_path):
    """`pip install .` resolves on macOS arm64 and Linux aarch64: the core dependencies, CPython 3.11,
    wheels only (what a Mac or an aarch64 machine downloads), TensorFlow among them."""
    if reason := pypi_unreachable():
        pytest.skip(reason)
    resolved = pip_report(tmp_path, "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                          *PLATFORMS[platform], "--target", str(tmp_path / "target"), *map(str, CORE))
    assert "tensorflow" in resolved and "tensorflow-cpu" not in resolved, resolved
    for req in CORE:
        assert req.specifier.contains(resolved[canonicalize_name(req.name)]), (req, resolved)


def test_lock_pins_every_dependency():
    pins = lock_pins()
    assert "tensorflow" in pins and "tensorflow-cpu" not in pins
    assert SELF not in pins, "the project itself is installed from the checkout, not from the lock"
    for req in CORE + [r for reqs in EXTRAS.values() for r in reqs]:
        name = canonicalize_name(req.name)
        if name == SELF:                                     # `all` = paper_lib[workflow,widgets,baselines,test]
            continue
        assert name in pins, f"{req.name} (pyproject.toml) is not in the lock: make lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"lock has {name}=={pins[name]}, pyproject {req}"
    head = LOCK.read_text().splitlines()[:8]
    assert any("make lock" in line for line in head) and any("Linux x86_64" in line for line in head), head


def test_make_install_uses_the_lock_here_and_ranges_when_asked(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    import platform

    def plan(*args):
        result = subprocess.run(["make", "-n", "install", f"PYTHON={sys.executable}", f"VENV={tmp_path / 'venv'}",
                                 *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    v, (libc, libc_version) = sys.version_info, platform.libc_ver()
    locked_host = (sys.platform == "linux" and platform.machine() == "x86_64" and v[:2] == (3, 11) and v[2] >= 5
                   and libc == "glibc" and tuple(map(int, libc_version.split(".")[:2])) >= (2, 34))
    locked = f"pip install --quiet -r {LOCK.relative_to(ROOT)}"
    if locked_host:
        assert locked in plan() and "pip install --quiet --no-deps -e '.[all]'" in plan() and "pip check" in plan()
    else:
        assert locked not in plan()
    ranges = plan("LOCK=")
    assert "-r requirements/" not in ranges and "pip install --quiet -e '.[all]'" in ranges


@pytest.mark.slow
def test_binder_installs_the_lock_and_nothing_else(tmp_path):
    """What Binder's `pip install -r binder/requirements.txt` (run in the repository root) installs on
    Linux x86_64 / CPython 3.11: the lock's versions, plus the project."""
    if not (sys.platform == "linux" and sys.version_info[:2] == (3, 11)):
        pytest.skip("Binder's resolution is checked on Linux with CPython 3.11 (the lock's platform)")
    if reason := pypi_unreachable():
        pytest.skip(reason)
    resolved = pip_report(tmp_path, "-r", "binder/requirements.txt")
    pins = lock_pins()
    assert resolved.pop(SELF) == PROJECT["version"]
    assert resolved == pins, {k: (resolved.get(k), pins.get(k)) for k in resolved.keys() | pins.keys()
                              if resolved.get(k) != pins.get(k)}


def test_environment_yml_is_a_conda_forge_environment_without_test_tools():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"][0] == "conda-forge" and set(env["channels"]) <= {"conda-forge", "bioconda"}, env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "python=3.11" in conda
    assert not any(line.startswith(("-e", ".", "/", "-r")) for line in pip), \
        "no local paths: snakemake --sdm conda creates the environment from a copy in .snakemake/conda/"
    # conda match specs of the form name>=a,<b / name==v read like pip's; `python=3.11` and `pip` are left out
    packages = [d for d in conda if d != "pip" and not d.startswith("python=")] + pip
    specs = {canonicalize_name(r.name): r for r in map(Requirement, packages)}
    test_tools = {canonicalize_name(t) for t in TEST_TOOLS}
    assert not specs.keys() & test_tools, specs.keys() & test_tools
    assert "tensorflow" in specs and "tensorflow-cpu" not in specs
    conda_alias = {"matplotlib": "matplotlib-base", "seaborn": "seaborn-base"}   # conda-forge's packages without Qt
    for req in CORE + EXTRAS["workflow"] + EXTRAS["widgets"] + EXTRAS["baselines"]:
        name = canonicalize_name(req.name)
        name = name if name in specs else conda_alias.get(name)
        assert name in specs, f"{req.name} is not in environment.yml"
        assert specs[name].specifier == req.specifier, f"environment.yml has {specs[name]}, pyproject.toml {req}"
