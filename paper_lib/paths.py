"""Names that become parts of file paths: checked here, and every such path built here.

A preset's ``preset`` name, a defect kind, a class label, a method name: each of them ends up in a
file name (``results/<preset>/``, ``confusion/<method>_<defect>_<level>.csv``). A name from a file
someone else wrote could hold ``../`` or an absolute path and send a write anywhere, or ``;`` and
``$( )`` and run commands in a shell line. Only names of :data:`SAFE_NAME` characters, and never
``..``, pass.
"""
from __future__ import annotations

import re
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
