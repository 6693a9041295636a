"""Files of the data flow: the ASE structure database and HDF5 fingerprint shards.

Every file is written under a temporary name in the same folder and renamed into place only when
complete, so an interrupted run never leaves a half-written file that looks finished.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable, Iterator

from ase import Atoms
from ase.db import connect

#: keys every row of ``structures.db`` carries (DESIGN.md), beside the prototype's free parameters
DB_KEYS = ("sid", "label", "label8", "spacegroup", "defect", "level", "element", "prototype")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        # the file itself if it was not renamed, and SQLite's / ASE's side files
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal"), tmp.with_name(tmp.name + ".lock")):
            leftover.unlink(missing_ok=True)


def write_structures(path: str | Path, rows: Iterable[tuple[Atoms, dict]]) -> int:
    """Write ``(atoms, key_value_pairs)`` rows to a new ASE database at ``path`` (atomically).

    Returns the number of rows written.
    """
    n = 0
    with atomic_path(path) as tmp:
        with connect(tmp, type="db", append=False) as db:
            for atoms, keys in rows:
                db.write(atoms, key_value_pairs=keys)
                n += 1
    return n


def merge_structures(out: str | Path, shards: Iterable[str | Path]) -> int:
    """Concatenate shard databases into one database ``out`` (atomically); returns the row count."""
    def rows():
        for shard in shards:
            for row in connect(shard, type="db").select():
                yield row.toatoms(), dict(row.key_value_pairs)
    return write_structures(out, rows())


def read_structures(path: str | Path, selection=None, **query) -> Iterator[tuple[int, Atoms, dict]]:
    """Yield ``(row_id, atoms, key_value_pairs)`` from an ASE database (``ase db`` query syntax)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such structure database")
    for row in connect(path, type="db").select(selection, **query):
        yield row.id, row.toatoms(), dict(row.key_value_pairs)


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


def read_fingerprints(path: str | Path, with_fingerprints: bool = True) -> dict:
    """Read a fingerprint file written by :func:`write_fingerprints` into a dict of arrays.

    String datasets come back as Python ``str`` arrays; ``attrs`` holds the file attributes.
    """
    import h5py

    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such fingerprint file")
    out = {}
    with h5py.File(path, "r") as h5:
        for key, dataset in h5.items():
            if key == "fingerprints" and not with_fingerprints:
                continue
            data = dataset[()]
            if dataset.dtype.kind == "O" or h5py.check_string_dtype(dataset.dtype):
                data = dataset.asstr()[()]
            out[key] = data
        out["attrs"] = dict(h5.attrs)
    return out


def merge_fingerprints(out: str | Path, shards) -> int:
    """Concatenate fingerprint shards (same attributes) into one file; returns the count."""
    import numpy as np

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


def read_structure_file(path: str | Path, format: str | None = None) -> list:
    """Every structure (frame) in a file any ASE reader understands, as a list of Atoms.

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
    and reading goes on where the reader can: extended XYZ files are split into frames here, so a
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
    try:
        format = format or filetype(str(path))
        get_ioformat(format)
    except UnknownFileTypeError:
        yield 0, ValueError(f"{path}: {UNKNOWN_FORMAT}")
        return
    except Exception as exc:  # e.g. a file that cannot be opened
        yield 0, ValueError(f"{path}: cannot be read as a structure ({_reason(exc)})")
        return
    frames = _extxyz_frames(path) if format == "extxyz" else enumerate(iread(str(path), index=":", format=format))
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


def _extxyz_frames(path: Path) -> Iterator[tuple[int, Atoms | ValueError]]:
    """Frames of an (extended) XYZ file, each cut out by its atom count and parsed by ASE alone.

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
                atoms = read(StringIO("".join(lines)), format="extxyz")
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
    ``row_id``, ``sid``, ``label``, ``defect``, ``level``) plus ``fingerprint_params`` and
    ``source`` (the structure databases, ';'-separated); raises ``ValueError`` if the shards were
    made with different fingerprint parameters.
    """
    import json

    import h5py
    import numpy as np

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no fingerprint files given")
    parts, params, sources = [], None, set()
    for path in paths:
        meta = read_fingerprints(path, with_fingerprints=False)
        these = json.loads(meta["attrs"]["fingerprint"])
        if params is None:
            params = these
        elif these != params:
            raise ValueError(f"{path}: made with fingerprint parameters {these}, other shards with {params}")
        sources.add(meta["attrs"].get("source", ""))
        index = np.arange(len(meta["row_id"])) if defect is None else np.flatnonzero(meta["defect"] == defect)
        with h5py.File(path, "r") as h5:
            fps = h5["fingerprints"][index] if len(index) else np.zeros((0, 64, 64, 3), np.float32)
        parts.append({"fingerprints": fps, **{k: meta[k][index] for k in
                                               ("row_id", "sid", "label", "defect", "level")}})
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["fingerprint_params"] = params
    out["source"] = ";".join(sorted(sources))      # the structure database(s) behind the shards
    return out
