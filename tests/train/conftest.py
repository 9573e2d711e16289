"""Fixtures of the training tests: label files made from real takes with no ground truth left in them."""

from __future__ import annotations

import h5py
import pytest

from lift3d.cli.main import main
from lift3d.data.mocap_h5 import GROUND_TRUTH_FIELDS


@pytest.fixture(scope="session")
def labels_without_ground_truth(tmp_path_factory, shared_data):
    """A 4-view mocap file with its ground-truth datasets deleted, labelled by lift3d pseudo-label."""
    d = tmp_path_factory.mktemp("selfsup")
    mocap = d / "val55.h5"
    assert main(["data", "build-mocap", "--split", "val", "--datasets", "cmu_mocap", "--subjects", "55", "--views",
                 "4", "--noise", "0.2", "-o", str(mocap), "--data-dir", str(shared_data), "--no-progress"]) == 0
    with h5py.File(mocap, "a") as f:
        for g in f.values():
            for k in GROUND_TRUTH_FIELDS:
                del g[k]
    with h5py.File(mocap) as f:
        assert not any(k in g for g in f.values() for k in GROUND_TRUTH_FIELDS)
    labels = d / "labels.h5"
    assert main(["pseudo-label", "--views", str(mocap), "-o", str(labels), "--no-progress"]) == 0
    return labels
