"""Shared fixtures: the real data in ../shared/data (tests skip cleanly where it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lift3d.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``shared/data``; skips the test, with the reason, when it is not there."""
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set LIFT3D_DATA or put shared/ beside the repository)")
    return root



@pytest.fixture(scope="session")
def pose2sim_demo(shared_data) -> Path:
    """``shared/data/pose2sim_demo``; skips the test when it is absent."""
    root = shared_data / "pose2sim_demo"
    if not root.is_dir():
        pytest.skip(f"Pose2Sim demo not found at {root}")
    return root
