"""Where lift3d finds the shared real data (tests, benchmarks, dataset builders)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The ``shared/data`` folder: ``$LIFT3D_DATA`` if set, else ``../shared/data`` beside the repository.

    The path is returned whether or not it exists; callers decide whether absence is an error or a skip.
    """
    env = os.environ.get("LIFT3D_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "data").resolve()
