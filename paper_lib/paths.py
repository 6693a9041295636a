"""Names that become parts of file paths: checked here, and every such path built here.

A preset's ``preset`` name, a defect kind, a class label, a method name: each of them ends up in a
file name (``results/<preset>/``, ``confusion/<method>_<defect>_<level>.csv``). A name from a file
someone else wrote could hold ``../`` or an absolute path and send a write anywhere, or ``;`` and
``$( )`` and run commands in a shell line. Only names of :data:`SAFE_NAME` characters, and never
``..``, pass.

Where the workflow keeps a preset's files (:class:`Layout`: ``results/<preset>/``,
``figures/<preset>/``, ``executed/<preset>/``) is built here too, for the Snakefile's rules, the
figure notebooks and the explorer alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: what a name that becomes (part of) a file name may hold: letters, digits, '_', '.', '-'; it
#: must not start with '.' or '-' (no hidden files, no command-line options) and holds no '..'
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class UnsafeName(ValueError):
    """A name that cannot become part of a file path, with where it came from in the message."""


def safe_name(name, what: str, source: str = "") -> str:
    """``name`` itself if it may become part of a file name, else :class:`UnsafeName`.

    ``what`` says which name it is (e.g. "preset name", "defect name"), ``source`` where it came
    from (a file, a key); both go into the message.
    """
    where = f"{source}: " if source else ""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
        raise UnsafeName(f"{where}the {what} {name!r} cannot be used in a file name: use 1-100 letters, digits, "
                         "'_', '.' or '-', not starting with '.' or '-' and without '..'")
    return name


def slug(label: str) -> str:
    """A class label as it appears in file names: ``hex/rh`` -> ``hex-rh``."""
    return str(label).replace("/", "-")


def child(folder: str | Path, *parts: str, what: str = "name", source: str = "") -> Path:
    """``folder/part/...`` where every part is a :func:`safe_name` (so the path stays inside
    ``folder``); raises :class:`UnsafeName` naming ``what`` and ``source`` otherwise."""
    path = Path(folder)
    for part in parts:
        path = path / safe_name(part, what, source)
    return path


#: the folders a workflow run writes into, each with one sub-folder per preset
RESULTS = "results"       # structures, fingerprints, models, predictions, accuracies
FIGURES = "figures"       # figures (PNG and PDF), the tables behind them, the report
EXECUTED = "executed"     # the figure notebooks as papermill executed them


def shard_names(shards: int) -> list[str]:
    """The names of a run's ``shards`` shards, the ``<shard>`` of its file names: ``000``, ``001``, ..."""
    return [f"{k:03d}" for k in range(shards)]


@dataclass(frozen=True)
class Layout:
    """Where the workflow keeps the files of the preset named ``preset``, under ``root`` (the folder
    Snakemake runs in; default ``.``, so that the paths are relative, as the rules name them).

    The preset name becomes a folder name: it is checked with :func:`safe_name`.
    """

    preset: str
    root: Path = Path(".")

    def __post_init__(self):
        object.__setattr__(self, "preset", safe_name(self.preset, "preset name"))
        object.__setattr__(self, "root", Path(self.root))

    @property
    def results(self) -> Path:
        """``results/<preset>/``: structures, fingerprints, models, predictions, accuracies."""
        return self.root / RESULTS / self.preset

    @property
    def figures(self) -> Path:
        """``figures/<preset>/``: figures (PNG and PDF) and the tables behind them."""
        return self.root / FIGURES / self.preset

    @property
    def executed(self) -> Path:
        """``executed/<preset>/``: the figure notebooks as papermill executed them."""
        return self.root / EXECUTED / self.preset

    @property
    def preset_file(self) -> Path:
        """``results/<preset>/preset.yaml``: the validated preset, as the run's steps read it."""
        return self.results / "preset.yaml"

    def fingerprint_shard(self, shard: str) -> Path:
        """``results/<preset>/fingerprints/shard-<shard>.h5``, ``shard`` one of :func:`shard_names`
        (or Snakemake's ``{shard}`` wildcard)."""
        return self.results / "fingerprints" / f"shard-{shard}.h5"

    def fingerprint_shards(self, shards: int | None = None) -> list[Path]:
        """The fingerprint files of a run in ``shards`` shards, each by its name: a shard left over
        from an earlier run in more shards is not among them. None: as many as the run's own preset
        (:attr:`preset_file`) says."""
        if shards is None:
            from .config import load

            shards = load(self.preset_file).shards
        return [self.fingerprint_shard(shard) for shard in shard_names(shards)]
