"""Writing outputs whole or not at all, and checksums.

Every file returnmodels writes goes through :func:`atomic_write`: the content is
written to a temporary file in the destination folder and renamed into place, so a
killed process never leaves a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from returnmodels.errors import ConfigError

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_write",
    "check_new_folder",
    "removed_on_failure",
    "sha256_file",
    "write_json",
    "write_table",
]

#: File suffixes of the case-table formats, and the writer each uses.
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")


@contextmanager
def atomic_write(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; move it into place on success."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"output folder {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"output folder {str(path.parent)!r} is not writable")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; honour the umask
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def check_new_folder(path: str | os.PathLike) -> Path:
    """Refuse, before any work, an output folder that could not be created and filled.

    ``path`` must not be a file or a non-empty folder, and its nearest existing parent
    must be a folder in which a folder can be made: a hidden probe folder is created
    there and removed at once, the one test that sees a read-only file system, access
    lists and privileges alike. Nothing else is created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output folder {str(path)!r} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"output folder {str(path)!r} exists and is not empty")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"output folder {str(path)!r} cannot be created: {str(parent)!r} is a file"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".returnmodels-probe-", dir=parent))
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            f"output folder {str(path)!r} cannot be created in {str(parent)!r}: {reason}"
        ) from None
    return path


@contextmanager
def removed_on_failure(path: str | os.PathLike):
    """Create the missing parent folders of ``path``; if the block fails, remove the
    ones created here again (innermost first, while empty), so a failed write leaves
    no folder behind."""
    path = Path(path)
    created = []
    parent = path.parent
    while not parent.exists():
        created.append(parent)
        parent = parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in created:
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a case table as CSV or Parquet (zstd), chosen by the suffix, atomically.

    CSV booleans are written ``true``/``false``, as the contract reads them.
    """
    path = Path(path)
    writers: dict[str, Callable[[pd.DataFrame, Path], None]] = {
        ".csv": _write_csv,
        ".parquet": _write_parquet,
    }
    if path.suffix not in writers:
        raise ConfigError(
            f"cannot write {str(path)!r}: the file name must end in one of {list(writers)}"
        )
    with atomic_write(path) as temporary:
        writers[path.suffix](frame, temporary)
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    booleans = frame.select_dtypes(bool).columns
    text = frame.assign(**{c: frame[c].map({True: "true", False: "false"}) for c in booleans})
    text.to_csv(path, index=False, lineterminator="\n")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, engine="pyarrow", compression="zstd", index=False)


def write_json(document: dict, path: str | os.PathLike) -> Path:
    """Write ``document`` as indented, key-sorted JSON, atomically."""
    path = Path(path)
    with atomic_write(path) as temporary:
        temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
