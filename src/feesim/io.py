"""File input and output: text files read with clear errors, atomic writes, staged folders.

A file feesim writes is either fully written or untouched, and a folder of results
(:func:`staged_output`) is written to a fresh temporary folder beside it and moved into place
only when complete: a reused or interrupted output folder never mixes two runs.

Input files are UTF-8 (TOML 1.0 requires it); a byte-order mark, as Windows Notepad writes,
is accepted. A file in another encoding is refused with a message that names the file and says
to save it as UTF-8, naming GBK when the bytes read as GBK (the usual encoding of Chinese
Windows; GB 18030 extends it).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import logging
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from feesim.errors import InputFileError, OutputError

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "read_csv",
    "read_text",
    "read_toml",
    "staged_output",
    "write_atomically",
]

log = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"


def read_text(path: str | os.PathLike[str], what: str = "") -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped); failures name the file.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is ("scenario", "portfolio", ...), for the messages.

    Raises
    ------
    InputFileError
        The file is missing, a folder, unreadable, or not UTF-8 (the message says to save it
        as UTF-8, and names GBK when its bytes decode as GBK).
    """
    p = Path(path)
    kind = f"{what} file" if what else "file"
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{p}: no such {kind}; it does not exist") from None
    except IsADirectoryError:
        raise InputFileError(f"{p}: is a folder; expected a {kind}") from None
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read the {kind} ({exc.strerror or exc})") from None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {data[exc.start]:#04x} at position {exc.start}"
        try:
            data.decode("gbk")
        except UnicodeDecodeError:
            hint = "it is not UTF-8 text"
        else:
            hint = "it looks like GBK (Chinese Windows) text, not UTF-8"
        raise InputFileError(
            f"{p}: cannot read the {kind}: {hint} ({where}); save it as UTF-8 "
            "(e.g. Notepad: Save as, Encoding UTF-8)"
        ) from None


def read_toml(path: str | os.PathLike[str], what: str = "") -> dict[str, Any]:
    """Parse a TOML file; every failure is an :class:`InputFileError` naming the file.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is ("scenario", "portfolio", ...), for the messages.
    """
    p = Path(path)
    text = read_text(p, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{p}: not valid TOML: {exc}") from None


def read_csv(path: str | os.PathLike[str], what: str = "", **kwargs: Any) -> Any:
    """Read a UTF-8 CSV file into a :class:`pandas.DataFrame`; failures name the file.

    ``kwargs`` go to :func:`pandas.read_csv`.

    Raises
    ------
    InputFileError
        As :func:`read_text`, and for an empty file or one pandas cannot parse.
    """
    import pandas as pd

    p = Path(path)
    kind = f"{what} file" if what else "file"
    text = read_text(p, what)
    if not text.strip():
        raise InputFileError(f"{p}: the {kind} is empty; expected a header row and data rows")
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputFileError(f"{p}: not a readable CSV {kind} ({exc})") from None


# ==============================================================================================
# output paths, checked before any work starts
# ==============================================================================================
def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor)  # pragma: no cover - the root of an absolute path exists


def _writable(folder: Path, key: str, target: Path) -> None:
    """Check that new entries can be made in the existing folder ``folder``."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".feesim-probe-", dir=folder)
    except OSError as exc:
        raise OutputError(
            f"{key}: got {str(target)!r}; cannot write in {folder} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: str | os.PathLike[str] | None, key: str = "--out") -> Path:
    """Check that ``path`` can be made (or replaced) as a folder of results; return it absolute.

    Nothing is created. Call it before any simulation starts, so that a bad path is reported
    in one line before the work rather than as a traceback after it.

    Parameters
    ----------
    path : path-like
        The folder.
    key : str
        The option or key the user wrote the path under, for messages.

    Raises
    ------
    OutputError
        An empty path, an existing file, a path under a file, or a folder whose parent cannot
        be written.
    """
    if path is None or str(path).strip() == "":
        raise OutputError(f"{key}: got an empty path; expected a folder name, e.g. out/run")
    target = Path(os.path.abspath(os.fspath(path)))
    if target.exists() and not target.is_dir():
        raise OutputError(f"{key}: got {str(path)!r}, an existing file; expected a folder")
    base = _first_existing(target)
    if not base.is_dir():
        raise OutputError(
            f"{key}: got {str(path)!r}, a path under the file {base}; expected a folder"
        )
    # The results are staged beside the folder, in its parent (or the nearest existing one).
    _writable(base if base != target else target.parent, key, Path(os.fspath(path)))
    return target


def check_output_file(path: str | os.PathLike[str] | None, key: str) -> Path:
    """Check that the file ``path`` can be written (atomically); return it absolute.

    Raises
    ------
    OutputError
        An empty path, an existing folder, a path under a file, or a folder that cannot be
        written.
    """
    if path is None or str(path).strip() == "":
        raise OutputError(f"{key}: got an empty path; expected a file name")
    target = Path(os.path.abspath(os.fspath(path)))
    if target.is_dir():
        raise OutputError(f"{key}: got {str(path)!r}, an existing folder; expected a file")
    base = _first_existing(target.parent)
    if not base.is_dir():
        raise OutputError(
            f"{key}: got {str(path)!r}, a path under the file {base}; expected a file in a folder"
        )
    _writable(base, key, Path(os.fspath(path)))
    return target


@contextlib.contextmanager
def staged_output(
    path: str | os.PathLike[str], owned: Iterable[str], key: str = "--out"
) -> Iterator[Path]:
    """Write a folder of results to a fresh temporary folder; move it into place on success.

    Parameters
    ----------
    path : path-like
        The output folder. It may exist and hold other files: only the entries this kind of
        run writes (``owned``) are replaced.
    owned : iterable of str
        Every file or folder name a run of this kind may write at the top of ``path``
        (shell-style patterns such as ``params-*`` allowed). On
        success each is replaced by this run's, or removed if this run did not write it, so
        the folder never holds entries of two runs (e.g. chunks of an earlier, larger
        ensemble beside this run's members table).
    key : str
        The option naming the folder, for messages.

    Yields
    ------
    pathlib.Path
        The temporary folder (absolute, beside ``path`` so the final moves are renames on one
        file system). If the body raises, or the process is interrupted, it is removed and
        ``path`` keeps its previous contents untouched.
    """
    final = check_output_dir(path, key)
    owned = set(owned)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.feesim-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes folders private; results are not
    try:
        yield tmp
        stray = sorted(p.name for p in tmp.iterdir() if not _owned(p.name, owned))
        if stray:  # a programming error: a writer that does not declare its outputs
            raise RuntimeError(f"staged output {stray} not among the declared {sorted(owned)}")
        _publish(tmp, final, owned)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _owned(name: str, owned: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in owned)


def _publish(tmp: Path, final: Path, owned: set[str]) -> None:
    """Swap the owned entries of ``final`` for those in ``tmp`` (old ones go last)."""
    final.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    try:
        # First move the old entries aside (renames), then the new ones in (renames): the
        # window in which a reader sees a mix is a few renames, never a whole run.
        for old in sorted(final.iterdir()):
            if _owned(old.name, owned):
                os.replace(old, trash / old.name)
        for entry in sorted(tmp.iterdir()):
            os.replace(entry, final / entry.name)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


@functools.cache
def _umask() -> int:
    """The process umask (read once)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _file_mode() -> int:
    """Permissions of a newly created file under the process umask."""
    return 0o666 & ~_umask()


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
