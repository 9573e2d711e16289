"""The header every lift3d multi-sequence HDF5 file shares (mocap dataset, labels): checked open, written header."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from lift3d import __version__
from lift3d.errors import InputError
from lift3d.skeletons import H36M17


def open_format(path: Path, fmt: str, version: int, *, missing: str = "file not found", hint: str = "") -> h5py.File:
    """Open ``path`` for reading, checking it is a readable HDF5 file with attributes ``format == fmt`` and
    ``format_version == version``; ``hint`` is appended to the wrong-format message. Use as a context manager."""
    if not path.is_file():
        raise InputError(missing, path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"not a readable HDF5 file ({e})", path) from None
    if f.attrs.get("format") != fmt:
        found = f.attrs.get("format")
        f.close()
        raise InputError(f"not a {fmt} file (format attribute is {found!r}){hint}", path)
    if int(f.attrs.get("format_version", -1)) != version:
        found = f.attrs.get("format_version")
        f.close()
        raise InputError(f"format_version {found} unsupported (want {version})", path)
    return f


def write_header(f: h5py.File, fmt: str, version: int, config: dict) -> None:
    """File attributes: format, version, the H36M-17 skeleton, lift3d's version and the producing config (JSON)."""
    f.attrs.update(format=fmt, format_version=version, skeleton=H36M17.name, joint_names=list(H36M17.joints),
                   parents=np.asarray(H36M17.parents, dtype=np.int32), lift3d_version=__version__,
                   config=json.dumps(config, sort_keys=True))
