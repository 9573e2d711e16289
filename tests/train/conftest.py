"""Fixtures of the training tests: label files made from real takes with no ground truth left in them."""

from __future__ import annotations

import dataclasses

import h5py
import pytest

from lift3d.cli.main import main
from lift3d.data.mocap_h5 import GROUND_TRUTH_FIELDS
from lift3d.io.kp2d import read_keypoints, write_kp2d_h5


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


@pytest.fixture(scope="session")
def pose2sim_video_labels(tmp_path_factory, pose2sim_demo):
    """Calibrated epipolar labels of Pose2Sim's 4 real videos, made the way a user makes them: one 2D file per
    camera that records its video as the source (here OpenPose's 2D of those videos, in place of lift3d
    track), then lift3d pseudo-label. Returns ``(labels.h5, the 2D files)``."""
    d = tmp_path_factory.mktemp("p2s_video")
    seq = pose2sim_demo / "single_balancing"
    files = []
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        kp = read_keypoints(seq / "pose_2d" / f"{cam}_json", fps=60.0)
        files.append(d / f"{cam}.h5")
        write_kp2d_h5(files[-1], dataclasses.replace(kp, source=str(seq / "videos" / f"{cam}.mp4")))
    labels = d / "labels.h5"
    assert main(["pseudo-label", "--views", *map(str, files), "--calib",
                 str(pose2sim_demo / "calibration" / "Calib_qualisys.toml"), "-o", str(labels), "--no-progress"]) == 0
    return labels, files
