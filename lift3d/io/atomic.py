"""Atomic output: write to a temporary file beside the target, rename into place only on success.

A failed or interrupted write never leaves a half-written output, and never destroys an older one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lift3d.errors import InputError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on a clean exit it is renamed to ``path``.

    ``suffix`` ends the temporary name (writers that pick a container from the suffix, such as OpenCV's video
    writer, need the real one). Raises :class:`InputError` naming the path if its directory does not exist. On an exception the
    temporary file is removed and the exception propagates.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"output directory does not exist ({path.parent})", path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, LF line endings) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
