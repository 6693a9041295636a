"""Files of the data flow: the ASE structure database and HDF5 fingerprint shards.

Every file is written under a temporary name in the same folder and renamed into place only when
complete, so an interrupted run never leaves a half-written file that looks finished.
"""
from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
import warnings
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from ase import Atoms
from ase.db import connect
from ase.db.sqlite import SQLite3Database

from .structures import StructureWarning

#: keys every row of ``structures.db`` carries, beside the prototype's free parameters
DB_KEYS = ("sid", "label", "label8", "spacegroup", "defect", "level", "element", "prototype")


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` (``.NAME.PID.part`` and SQLite's / ASE's / Keras' side
    files ``-journal``, ``.lock``, ``.keras``) left by a process that no longer runs, e.g. one killed
    with SIGKILL while writing; returns what was removed. Temporaries of a running process stay."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    for leftover in path.parent.glob(f"{glob.escape(prefix)}*.part*"):
        pid = leftover.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    Temporaries of ``path`` that an earlier, killed process left behind are removed first; they
    are never read (their names are not ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        # the file itself if it was not renamed, and SQLite's / ASE's side files
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal"), tmp.with_name(tmp.name + ".lock")):
            leftover.unlink(missing_ok=True)


def write_structures(path: str | Path, rows: Iterable[tuple[Atoms, dict]], metadata: dict | None = None) -> int:
    """Write ``(atoms, key_value_pairs)`` rows to a new ASE database at ``path`` (atomically).

    ``metadata`` (optional): the database's metadata (e.g. ``dataset_digest``, see
    :func:`database_metadata`). Returns the number of rows written.
    """
    n = 0
    with atomic_path(path) as tmp:
        with connect(tmp, type="db", append=False) as db:
            for atoms, keys in rows:
                db.write(atoms, key_value_pairs=keys)
                n += 1
        if metadata:
            connect(tmp, type="db").metadata = metadata
    return n


def _connect_read_only(path: str | Path) -> sqlite3.Connection:
    """An SQLite connection that cannot write: SQLite refuses any change to the file."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=20)


class _ReadOnlyDatabase(SQLite3Database):
    """An ASE database opened read-only (ASE would otherwise create the tables of an empty file,
    and SQLite roll a leftover journal back into it)."""

    def _connect(self):
        return _connect_read_only(self.filename)


REGENERATE = "regenerate it (re-run the step that writes it)"


def open_database(path: str | Path) -> SQLite3Database:
    """A finished ASE structure database at ``path``, opened read-only.

    Raises ``FileNotFoundError`` or ``ValueError`` naming the file when it is missing, a folder,
    empty (0 bytes), has a ``-journal`` or ``-wal`` beside it (it was being written when it was
    interrupted), fails SQLite's check, or is not an ASE database. Never creates or changes it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such structure database")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a structure database")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes), not a structure database; {REGENERATE}")
    for suffix in ("-journal", "-wal"):
        if path.with_name(path.name + suffix).exists():
            raise ValueError(f"{path}: {path.name}{suffix} lies beside it: the database was being written when it "
                             f"was interrupted and may be incomplete; {REGENERATE}")
    try:
        with contextlib.closing(_connect_read_only(path)) as con:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not a readable structure database (SQLite: {exc}); {REGENERATE}") from None
    if check != "ok":
        raise ValueError(f"{path}: the database is damaged (SQLite: {check}); {REGENERATE}")
    if "systems" not in tables:
        raise ValueError(f"{path}: an SQLite file but not an ASE structure database (no 'systems' table)")
    return _ReadOnlyDatabase(str(path), create_indices=False, use_lock_file=False)


def row_id_range(path: str | Path) -> tuple[int | None, int | None]:
    """Smallest and largest row id of a structure database (None, None when it has no rows); the
    file is checked and read as in :func:`open_database`."""
    db = open_database(path)
    try:
        ends = [next(db.select(sort=order, limit=1, include_data=False, columns=["id"]), None)   # ids alone
                for order in ("id", "-id")]
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not a readable structure database (SQLite: {exc}); {REGENERATE}") from None
    return (None, None) if ends[0] is None else (ends[0].id, ends[1].id)


def row_block(path: str | Path, shard: int, n_shards: int) -> tuple[int, int]:
    """Row-id range [first, stop) of block ``shard`` of ``n_shards`` of a structure database:
    contiguous blocks of its row ids, of (nearly) equal sizes; (1, 1) for a database without rows."""
    first, last = row_id_range(path)
    if first is None:
        return 1, 1
    size = last - first + 1
    return first + size * shard // n_shards, first + size * (shard + 1) // n_shards


def _row_problem(atoms: Atoms) -> str | None:
    """What is impossible about a structure read from a database (damaged bytes), or None."""
    if not np.all(np.isfinite(atoms.positions)):
        return "NaN or infinite coordinates"
    if not np.all(np.isfinite(atoms.cell.array)):
        return "a NaN or infinite cell"
    if len(atoms) and not (1 <= atoms.numbers.min() and atoms.numbers.max() <= 118):
        return f"an impossible atomic number ({int(atoms.numbers.min())}..{int(atoms.numbers.max())})"
    return None


def _rows(path: Path, selection=None, **query) -> Iterator[tuple[int, Atoms, dict]]:
    """``(row_id, atoms, key_value_pairs)`` of a database; a row that cannot be decoded raises
    ``ValueError`` naming the file and the row."""
    db = open_database(path)
    last = None
    try:
        for row in db.select(selection, **query):
            last = row.id
            try:
                atoms, keys = row.toatoms(), dict(row.key_value_pairs)
            except Exception as exc:  # damaged bytes surface as any kind of error in ASE's decoding
                raise ValueError(f"{path}: row {row.id} cannot be decoded ({_reason(exc)}); the database is "
                                 f"damaged: {REGENERATE}") from None
            yield row.id, atoms, keys
    except sqlite3.DatabaseError as exc:
        after = f" after row {last}" if last is not None else ""
        raise ValueError(f"{path}: the database cannot be read{after} (SQLite: {exc}); {REGENERATE}") from None


def database_metadata(path: str | Path) -> dict:
    """The metadata of a structure database (``dataset_digest`` and ``preset`` when the
    ``structures`` step wrote it; empty for other databases)."""
    db = open_database(path)
    try:
        return dict(db.metadata)
    except Exception as exc:  # damaged bytes surface as SQLite or JSON errors
        raise ValueError(f"{path}: its metadata cannot be read ({_reason(exc)}); {REGENERATE}") from None


def merge_structures(out: str | Path, shards: Iterable[str | Path]) -> int:
    """Concatenate shard databases into one database ``out`` (atomically); returns the row count.

    Every shard must be a finished, undamaged database (see :func:`open_database`) and every row
    decodable with finite coordinates: otherwise ``ValueError`` names the shard (and the row) and
    nothing is written. The shards are only read; ``out`` may not be one of them. The metadata
    (``dataset_digest``) is kept when all shards share it.
    """
    shards = [Path(s) for s in shards]
    if not shards:
        raise ValueError("no shard databases to merge")
    for shard in shards:
        if shard.exists() and Path(out).exists() and shard.samefile(out):
            raise ValueError(f"{out}: is also one of the shards to merge; an input is never written: "
                             "choose another --out")
    metadata = [database_metadata(shard) for shard in shards]      # checks every shard before any work
    digests = {m.get("dataset_digest") for m in metadata}
    kept = metadata[0] if len(digests) == 1 and None not in digests else None

    def rows():
        for shard in shards:
            for row_id, atoms, keys in _rows(shard):
                problem = _row_problem(atoms)
                if problem:
                    raise ValueError(f"{shard}: row {row_id} has {problem}; the database is damaged: {REGENERATE}")
                yield atoms, keys
    return write_structures(out, rows(), kept)


def read_structures(path: str | Path, selection=None, **query) -> Iterator[tuple[int, Atoms, dict]]:
    """Yield ``(row_id, atoms, key_value_pairs)`` from an ASE database (``ase db`` query syntax).

    The database is opened read-only (see :func:`open_database`); a row that cannot be decoded, or
    a damaged file, raises ``ValueError`` naming the file (and the row). A row whose coordinates
    came out NaN is yielded as it is: the fingerprint step reports it and goes on.
    """
    yield from _rows(Path(path), selection, **query)


def write_fingerprints(path: str | Path, fingerprints, meta: dict[str, list], failed: list[tuple[int, str]],
                       attrs: dict) -> None:
    """Write a fingerprint shard to HDF5 (atomically).

    Datasets: ``fingerprints`` (n, 64, 64, 3) float32 in [0, 1]; one 1-d dataset per ``meta`` key
    (e.g. ``row_id``, ``label``, ``defect``, ``level``); ``failed_row_id`` and ``failed_error`` for
    structures that could not be fingerprinted. ``attrs`` (fingerprint parameters, classes, source)
    are stored as file attributes (JSON text for non-scalar values).
    """
    import json

    import h5py
    import numpy as np

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            fps = np.asarray(fingerprints, dtype=np.float32)
            h5.create_dataset("fingerprints", data=fps, chunks=(1,) + fps.shape[1:] if len(fps) else None,
                              compression="lzf", shuffle=True)
            for key, values in meta.items():
                values = np.asarray(values)
                if values.dtype.kind in "UO":
                    values = values.astype(h5py.string_dtype())
                h5.create_dataset(key, data=values)
            h5.create_dataset("failed_row_id", data=np.array([i for i, _ in failed], dtype=np.int64))
            h5.create_dataset("failed_error", data=np.array([m for _, m in failed], dtype=object),
                              dtype=h5py.string_dtype())
            for key, value in attrs.items():
                h5.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)


#: datasets every fingerprint file holds (the ``fingerprints`` step writes ``sid``, ``label``,
#: ``defect`` and ``level`` too, which :func:`load_fingerprint_set` needs)
FINGERPRINT_DATASETS = ("fingerprints", "row_id")


def _h5_problem(path: Path) -> str | None:
    if not path.exists():
        return None
    if path.is_dir():
        return f"{path}: is a folder, not a fingerprint file"
    if path.stat().st_size == 0:
        return f"{path}: the file is empty (0 bytes), not a fingerprint file; {REGENERATE}"
    return None


def read_fingerprints(path: str | Path, with_fingerprints: bool = True) -> dict:
    """Read a fingerprint file written by :func:`write_fingerprints` into a dict of arrays.

    String datasets come back as Python ``str`` arrays; ``attrs`` holds the file attributes.
    Raises ``FileNotFoundError`` or ``ValueError`` naming the file (and the dataset) when it is
    missing, empty, not HDF5, damaged, lacks a dataset, or holds fingerprints that are not finite
    numbers in [0, 1].
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such fingerprint file")
    problem = _h5_problem(path)
    if problem:
        raise ValueError(problem)
    out = {}
    key = None
    try:
        with h5py.File(path, "r") as h5:
            missing = [k for k in FINGERPRINT_DATASETS if k not in h5]
            if missing:
                raise ValueError(f"{path}: not a fingerprint file of paper_lib (no dataset '{missing[0]}')")
            for key, dataset in h5.items():
                if key == "fingerprints" and not with_fingerprints:
                    continue
                data = dataset[()]
                if dataset.dtype.kind == "O" or h5py.check_string_dtype(dataset.dtype):
                    data = dataset.asstr()[()]
                out[key] = data
            key = None
            out["attrs"] = dict(h5.attrs)
    except (OSError, KeyError, RuntimeError, UnicodeDecodeError) as exc:  # h5py's kinds for damaged files
        where = f" (dataset '{key}')" if key else ""
        raise ValueError(f"{path}: not a readable fingerprint file{where} (HDF5: {_reason(exc)}); "
                         f"{REGENERATE}") from None
    if with_fingerprints:
        check_fingerprint_values(path, out["fingerprints"], out["row_id"])
    return out


def check_fingerprint_values(path, fingerprints, row_ids) -> None:
    """Raise ``ValueError`` naming ``path`` and the rows unless every fingerprint is (64, 64, 3) of
    finite numbers in [0, 1] (what :func:`paper_lib.diffraction.fingerprint` makes); a damaged or
    foreign file would otherwise be classified as if it were data."""
    fingerprints = np.asarray(fingerprints)
    if fingerprints.ndim != 4 or fingerprints.shape[1:] != (64, 64, 3):
        raise ValueError(f"{path}: fingerprints have shape {fingerprints.shape}, expected (n, 64, 64, 3)")
    flat = fingerprints.reshape(len(fingerprints), -1)
    with np.errstate(invalid="ignore"):
        bad = ~np.all(np.isfinite(flat) & (flat >= 0) & (flat <= 1), axis=1)
    if bad.any():
        rows = ", ".join(str(r) for r in np.asarray(row_ids)[bad][:5]) + (" ..." if bad.sum() > 5 else "")
        raise ValueError(f"{path}: {int(bad.sum())} fingerprint(s) hold NaN, infinite or out-of-range values "
                         f"(row_id {rows}): the file is damaged; {REGENERATE}")


def merge_fingerprints(out: str | Path, shards) -> int:
    """Concatenate fingerprint shards (same attributes) into one file; returns the count."""
    import numpy as np

    shards = [Path(s) for s in shards]
    if any(s.exists() and Path(out).exists() and s.samefile(out) for s in shards):
        raise ValueError(f"{out}: is also one of the shards to merge; an input is never written: choose another --out")
    parts = [read_fingerprints(s) for s in shards]
    if not parts:
        raise ValueError("no fingerprint shards to merge")
    keys = [k for k in parts[0] if k not in ("fingerprints", "attrs", "failed_row_id", "failed_error")]
    meta = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    failed = [(int(i), str(m)) for p in parts for i, m in zip(p["failed_row_id"], p["failed_error"])]
    attrs = {k: v for k, v in parts[0]["attrs"].items() if k not in ("shard",)}
    fps = np.concatenate([p["fingerprints"] for p in parts])
    write_fingerprints(out, fps, meta, failed, attrs)
    return len(fps)


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a structure file (missing, a folder, empty), or None."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder, not a structure file"
    if path.stat().st_size == 0:
        return f"{path}: the file is empty"
    return None


def _reason(exc: Exception) -> str:
    """The first line of an exception's message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


UNKNOWN_FORMAT = "ASE does not recognise the file format (name a format with --format)"

#: the format name that reads a file with pymatgen instead of ASE (``Structure.from_file``, then
#: ``Molecule.from_file``): pymatgen's JSON/YAML serialisations, CIF, POSCAR, CSSR, XSF, RES ...
PYMATGEN_FORMAT = "pymatgen"


def _is_pymatgen_json(path: Path) -> bool:
    """A ``.json`` file written by pymatgen (``Structure.to(filename=...)`` or ``monty.serialization``),
    told by the ``"@module": "pymatgen...`` key near its start."""
    import re

    if path.suffix.lower() != ".json":
        return False
    try:
        with open(path, "r", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return re.search(r'"@module"\s*:\s*"pymatgen\.', head) is not None


def _pymatgen_frame(path: Path) -> Atoms:
    """The one structure of ``path`` read by pymatgen, as Atoms (a crystal from ``Structure``, a
    cluster from ``Molecule``); ``ValueError`` naming the file when pymatgen cannot read it."""
    from .structures import StructureError, to_atoms

    try:
        from pymatgen.core import Molecule, Structure
    except ImportError:
        raise ValueError(f"{path}: reading with pymatgen needs pymatgen (pip install pymatgen)") from None
    errors = []
    for kind in (Structure, Molecule):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")         # pymatgen's CIF parser warns on every oddity
                structure = kind.from_file(str(path))
        except Exception as exc:  # pymatgen's readers raise many kinds on bad content
            errors.append(f"{kind.__name__}: {_reason(exc)}")
            continue
        try:
            return to_atoms(structure, str(path))
        except StructureError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{path}: pymatgen cannot read it ({'; '.join(errors)})")


def read_structure_file(path: str | Path, format: str | None = None) -> list:
    """Every structure (frame) in a file any ASE reader understands, as a list of Atoms.

    ``format``: an ASE format name, or ``"pymatgen"`` to read the file with pymatgen (a JSON file
    pymatgen wrote is recognised without it).

    Raises ``ValueError`` with the file name and a sentence a person understands when the file is
    missing, empty, of an unknown format or unreadable. Holds every frame in memory: for long
    trajectories see :func:`iter_structure_file`.
    """
    from ase.io import read
    from ase.io.formats import UnknownFileTypeError

    path = Path(path)
    problem = _file_problem(path)
    if problem:
        raise ValueError(problem)
    if format is not None and format_problem(format):
        raise ValueError(f"{path}: {format_problem(format)}")
    if format == PYMATGEN_FORMAT or (format is None and _is_pymatgen_json(path)):
        return [_pymatgen_frame(path)]
    try:
        frames = read(path, index=":", format=format)
    except UnknownFileTypeError:
        raise ValueError(f"{path}: {UNKNOWN_FORMAT}") from None
    except Exception as exc:  # ASE's readers raise many kinds on bad content
        raise ValueError(f"{path}: cannot be read as a structure ({_reason(exc)})") from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise ValueError(f"{path}: the file holds no structure")
    return frames


def iter_structure_file(path: str | Path, format: str | None = None) -> Iterator[tuple[int, Atoms | ValueError]]:
    """The frames of a structure file one at a time, as ``(index, atoms)`` pairs (index from 0).

    A frame that cannot be parsed comes as ``(index, ValueError)`` naming the file and the frame,
    and reading goes on where the reader can: (extended) XYZ files are split into frames here, so a
    bad frame loses only itself (a truncated last frame loses nothing before it); other formats go
    through ``ase.io.iread`` and stop at their first bad frame. A missing, empty or unrecognised
    file gives one ``(0, ValueError)`` with the messages of :func:`read_structure_file`. Never
    raises on bad input; holds one frame in memory at a time (extended XYZ and ASE's streaming
    readers; some readers, e.g. CIF, parse the whole file first).
    """
    from ase.io import iread
    from ase.io.formats import UnknownFileTypeError, filetype, get_ioformat

    path = Path(path)
    problem = _file_problem(path)
    if problem:
        yield 0, ValueError(problem)
        return
    if format is not None:
        problem = format_problem(format)
        if problem:
            yield 0, ValueError(f"{path}: {problem}")
            return
    if format == PYMATGEN_FORMAT or (format is None and _is_pymatgen_json(path)):
        try:
            yield 0, _pymatgen_frame(path)
        except ValueError as exc:
            yield 0, exc
        return
    try:
        format = format or filetype(str(path))
        get_ioformat(format)
    except UnknownFileTypeError:
        yield 0, ValueError(f"{path}: {UNKNOWN_FORMAT}")
        return
    except Exception as exc:  # e.g. a file that cannot be opened
        yield 0, ValueError(f"{path}: cannot be read as a structure ({_reason(exc)})")
        return
    if format == "xyz":
        _warn_if_extended(path)
    frames = (_xyz_frames(path, format) if format in ("extxyz", "xyz")
              else enumerate(iread(str(path), index=":", format=format)))
    count = 0
    while True:
        try:
            index, frame = next(frames)
        except StopIteration:
            break
        except Exception as exc:  # ASE's readers raise many kinds on bad content; they cannot go on after it
            yield count, ValueError(f"{path}: frame {count} cannot be read ({_reason(exc)})")
            return
        count += 1
        yield index, frame
    if count == 0:
        yield 0, ValueError(f"{path}: the file holds no structure")


def format_problem(format: str) -> str | None:
    """Why ``format`` is not a structure format ASE (or, for ``"pymatgen"``, pymatgen) can read, or None."""
    from ase.io.formats import UnknownFileTypeError, get_ioformat

    if format == PYMATGEN_FORMAT:
        return None
    try:
        readable = get_ioformat(format).can_read
    except UnknownFileTypeError:
        readable = None
    if readable:
        return None
    what = "is not a format ASE knows" if readable is None else "is a format ASE can write but not read"
    return (f"{format!r} {what}; readable formats include extxyz, xyz, cif, vasp, lammps-data, traj, pdb "
            "(all of them: `ase info --formats`), or pymatgen to read the file with pymatgen")


def _warn_if_extended(path: Path) -> None:
    """Warn (stderr) when a file read as plain XYZ has an extended XYZ comment line: the plain
    reader drops its cell and periodicity, and a crystal becomes a finite cluster."""
    from ase.io.formats import open_with_compression

    try:
        with open_with_compression(str(path), "r") as handle:
            handle.readline()
            comment = handle.readline()
    except (OSError, UnicodeDecodeError):
        return   # the reader reports what is wrong with the file
    if "lattice=" in comment.lower() or "pbc=" in comment.lower():
        warnings.warn(f"{path}: read as plain XYZ (format xyz), which ignores the cell (Lattice=) and pbc of "
                      "its comment line: every frame is taken as a finite cluster; read it with format extxyz "
                      "to keep the crystal", StructureWarning, stacklevel=2)


def _xyz_frames(path: Path, format: str = "extxyz") -> Iterator[tuple[int, Atoms | ValueError]]:
    """Frames of an (extended) XYZ file, each cut out by its atom count and parsed by ASE alone
    (with ASE's reader of ``format``: ``extxyz``, or ``xyz``, which ignores the comment line).

    A frame whose lines do not parse is reported and the next one read; a count line that is not a
    number, or a file that ends inside a frame, ends the file (nothing after it can be found).
    """
    from io import StringIO

    from ase.io import read
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "r") as handle:
        index, line = 0, handle.readline()
        while line.strip():                      # a blank line or the end of the file ends it
            try:
                n_atoms = int(line)
                if n_atoms < 0:
                    raise ValueError
            except ValueError:
                yield index, ValueError(f"{path}: frame {index} cannot be read (expected its number of atoms, "
                                        f"found {line.strip()[:40]!r}); nothing after it can be read")
                return
            lines = [line] + [handle.readline() for _ in range(n_atoms + 1)]
            if not lines[-1]:
                yield index, ValueError(f"{path}: frame {index} is truncated (the file ends inside it)")
                return
            line = handle.readline()
            while line.lstrip().startswith("VEC"):   # extended XYZ's optional cell lines
                lines.append(line)
                line = handle.readline()
            try:
                atoms = read(StringIO("".join(lines)), format=format)
            except Exception as exc:  # ASE's readers raise many kinds on bad content
                atoms = ValueError(f"{path}: frame {index} cannot be read ({_reason(exc)})")
            yield index, atoms
            index += 1


@contextlib.contextmanager
def csv_rows(path: str | Path, header: list[str]) -> Iterator:
    """A function writing one CSV row (a list) to a new file at ``path``, after ``header``.

    Each row is flushed as it is written; the file is written under a temporary name beside
    ``path`` and renamed to ``path`` only when the block ends without an error.
    """
    import csv

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)

        def write(row) -> None:
            writer.writerow(row)
            handle.flush()

        yield write


def load_fingerprint_set(paths, defect: str | None = None) -> dict:
    """Fingerprints and their keys from several shards, optionally only rows of one ``defect``.

    Reads only the selected rows. Returns a dict of concatenated arrays (``fingerprints``,
    ``row_id``, ``sid``, ``label``, ``defect``, ``level``) plus ``fingerprint_params``,
    ``source`` (the structure databases, ';'-separated) and ``dataset_digest`` (the pristine
    structures' dataset, None unless every file records the same); raises ``ValueError`` naming the
    file if the shards were made with different fingerprint parameters, or one is unreadable.
    """
    import json

    import h5py
    import numpy as np

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no fingerprint files given")
    parts, params, sources = [], None, set()
    digests = set()
    for path in paths:
        meta = read_fingerprints(path, with_fingerprints=False)
        try:
            these = json.loads(meta["attrs"]["fingerprint"])
        except (KeyError, TypeError, json.JSONDecodeError):
            raise ValueError(f"{path}: its attribute 'fingerprint' (the fingerprint parameters) is missing or "
                             f"not JSON; {REGENERATE}") from None
        digests.add(meta["attrs"].get("dataset_digest"))
        missing = [k for k in ("sid", "label", "defect", "level") if k not in meta]
        if missing:
            raise ValueError(f"{path}: the dataset '{missing[0]}' is missing (the fingerprints step writes it); "
                             f"{REGENERATE}")
        if params is None:
            params = these
        elif these != params:
            raise ValueError(f"{path}: made with fingerprint parameters {these}, other shards with {params}")
        sources.add(meta["attrs"].get("source", ""))
        index = np.arange(len(meta["row_id"])) if defect is None else np.flatnonzero(meta["defect"] == defect)
        try:
            with h5py.File(path, "r") as h5:
                fps = h5["fingerprints"][index] if len(index) else np.zeros((0, 64, 64, 3), np.float32)
        except (OSError, KeyError, RuntimeError) as exc:  # h5py's kinds for damaged files
            raise ValueError(f"{path}: the fingerprints cannot be read (HDF5: {_reason(exc)}); {REGENERATE}") from None
        check_fingerprint_values(path, fps, meta["row_id"][index])
        parts.append({"fingerprints": fps, **{k: meta[k][index] for k in
                                               ("row_id", "sid", "label", "defect", "level")}})
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["fingerprint_params"] = params
    out["source"] = ";".join(sorted(sources))      # the structure database(s) behind the shards
    # the pristine structures' dataset (Preset.dataset_digest), when every file records the same one
    out["dataset_digest"] = digests.pop() if len(digests) == 1 else None
    return out
