"""The README and docs/: a short user guide whose every link, anchor and named file exists; a licence
and a citation file that validate."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
#: what the README's two commands and the workflow create: named in the text, absent from a clean clone
GENERATED = ("figures/quick", "executed/quick", "results/", ".venv/", "build/")
#: paths inside other repositories that docs/install.md cites (conda-forge feedstocks, bioconda)
EXTERNAL = ("recipe/", "recipes/")
BINDER = re.compile(r"\(https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/notebooks/04_explorer\.ipynb\)")


def links(text: str) -> list[str]:
    """Targets of Markdown links and images, outside code blocks."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text()
    explicit = set(re.findall(r'<a id="([^"]+)"></a>', text))
    return explicit | {slug(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def named_paths(text: str) -> list[str]:
    """Repository paths named in inline code: a folder and what is in it (``config/paper.yaml``,
    ``figures/paper/``), no placeholder. Bare names (``model.json``) name kinds of file, not paths."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    names = []
    for code in re.findall(r"`([^`\n]+)`", text):
        for token in code.split():
            if token.startswith(("-", "http")) or "<" in token or "*" in token or "{" in token or "(" in token:
                continue
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", token) and not re.fullmatch(r"[A-Z]+/\d+", token):
                names.append(token)      # a path with a folder (K/32 is a shard spec, not a path)
    return names


def test_readme_is_a_short_guide_opening_with_the_two_commands():
    text = README.read_text()
    assert len(text.encode()) <= 10_000, f"README.md is {len(text.encode())} bytes"
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert text.index("```bash") < 200                      # the first lines
    assert re.search(r"^make figures\b", first_block, flags=re.M)
    assert re.search(r"^make test\b", first_block, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    for section in ("Classify your own structures", "Reproduce the paper", "Explore", "Results at a glance",
                    "How it works", "Limits", "Cite and license"):
        assert re.search(rf"^## {section}", text, flags=re.M), section
    assert "pymatgen" in text and "@article{" in text
    assert BINDER.search(text), "no Binder badge opening notebooks/04_explorer.ipynb in JupyterLab"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_and_anchor_exists(path):
    for target in links(path.read_text()):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{path.name} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(resolved), f"{path.name} links to {target}: no such anchor"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_file_named_exists(path):
    missing = []
    for name in named_paths(path.read_text()):
        if name.startswith(GENERATED + EXTERNAL) or name.startswith("/"):
            continue
        if not (ROOT / name).exists():
            missing.append(name)
    assert not missing, f"{path.name} names files that are not in the repository: {sorted(set(missing))}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_no_issue_numbers_or_outside_documents(path):
    text = path.read_text()
    assert not re.search(r"\bissues? #?\d", text, flags=re.I)
    assert not re.search(r"\b(METHOD|VALIDATION|DESIGN|ECOSYSTEM|STYLE)\.md\b", text)


def test_the_file_name_heuristic_sees_paths_and_skips_options():
    text = ("Run `python benchmarks/bench_local.py --out x` on `config/quick.yaml` into `figures/paper/`, not "
            "`--format cif`, `<preset>/a`, `--shard K/32` or `model.json`.")
    assert named_paths(text) == ["benchmarks/bench_local.py", "config/quick.yaml", "figures/paper/"]


def test_license_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


def test_citation_file_validates():
    """CITATION.cff against the Citation File Format 1.2.0 schema (tests/data, as cffconvert 2.0.0
    bundles it; cffconvert itself cannot be installed beside jsonschema >= 4), and with
    ``cffconvert --validate`` where that command is on the PATH."""
    import json

    import jsonschema
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    schema = json.loads((ROOT / "tests" / "data" / "citation-file-format-1.2.0.schema.json").read_text())
    jsonschema.validate(cff, schema, format_checker=jsonschema.FormatChecker())
    broken = {k: v for k, v in cff.items() if k != "authors"}
    with pytest.raises(jsonschema.ValidationError):              # the schema can fail
        jsonschema.validate(broken, schema)
    assert cff["preferred-citation"]["doi"] == "10.1038/s41467-018-05169-6"
    from importlib.metadata import version

    assert str(cff["version"]) == version("paper_lib")
    cffconvert = shutil.which("cffconvert")
    if cffconvert:
        result = subprocess.run([cffconvert, "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stdout + result.stderr
