"""File input and output: TOML files read with clear errors, atomic writes.

A file feesim writes is either fully written or untouched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from feesim.errors import ConfigError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_toml",
    "write_atomically",
]


def read_toml(path: str | os.PathLike[str], what: str = "") -> dict[str, Any]:
    """Parse a TOML file; every failure is a :class:`ConfigError` naming the file.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is ("scenario", "portfolio", ...), for the message of a missing file.
    """
    p = Path(path)
    kind = f"{what} file" if what else "file"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such {kind}; it does not exist") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the {kind} ({exc.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None


@functools.cache
def _file_mode() -> int:
    """Permissions of a newly created file under the process umask (read once)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it over ``path`` only on success.

    Parameters
    ----------
    path : path-like
        The final destination. Its parent directory is created if missing.

    Yields
    ------
    pathlib.Path
        A temporary file in the same directory (so the final rename is atomic on POSIX).
        If the body raises, the temporary file is removed and ``path`` keeps its old content.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, _file_mode())  # mkstemp makes files private; results are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_atomically(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], None]) -> Path:
    """Call ``writer`` with a binary file handle and atomically publish the result at ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomically(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))
