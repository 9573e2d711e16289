"""Synthetic scenes for the geometry tests: a ring of cameras around a body-sized point cloud (Z-up world)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from lift3d.geometry import CameraSet


def look_at(center: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``R, t`` of an OpenCV camera at ``center`` looking at ``target`` (y down = world -up)."""
    forward = target - center
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    return R, -R @ center


def make_ring(num_views: int = 6, radius: float = 4.0, height: float = 1.6, distorted: bool = True) -> CameraSet:
    """``num_views`` cameras evenly spaced on a circle, all looking at (0, 0, 1), with mildly varied intrinsics."""
    rng = np.random.default_rng(123)
    Ks, Rs, ts, dists = [], [], [], []
    for i in range(num_views):
        a = 2 * np.pi * i / num_views + 0.1
        center = np.array([radius * np.cos(a), radius * np.sin(a), height + 0.2 * (i % 2)])
        R, t = look_at(center, np.array([0.0, 0.0, 1.0]))
        f = 1000.0 + 100 * i
        Ks.append([[f, 0.0, 640.0 + 5 * i], [0.0, f * 1.01, 360.0 - 3 * i], [0.0, 0.0, 1.0]])
        Rs.append(R)
        ts.append(t)
        dists.append(rng.normal(0, [0.05, 0.02, 0.001, 0.001, 0.005]) if distorted else np.zeros(5))
    return CameraSet.from_numpy(
        np.array(Ks), np.array(Rs), np.array(ts), np.array(dists), np.tile([1280.0, 720.0], (num_views, 1))
    )


def make_body(num_points: int = 17, seed: int = 0) -> torch.Tensor:
    """``(N, 3)`` float64 points in a 0.6 x 0.4 x 1.8 m box standing at the origin."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-0.3, -0.2, 0.0], [0.3, 0.2, 1.8], size=(num_points, 3))
    return torch.from_numpy(pts)


@pytest.fixture
def ring() -> CameraSet:
    return make_ring()


@pytest.fixture
def ring_pinhole() -> CameraSet:
    return make_ring(distorted=False)


@pytest.fixture
def body() -> torch.Tensor:
    return make_body()


# --- real data: the Pose2Sim demo (4 calibrated cameras, OpenPose BODY_25B detections, Pose2Sim's own 3D) ---

# BODY_25B index -> TRC marker name, for the joints both have.
BODY25B_TO_TRC = {0: "Nose", 5: "LShoulder", 6: "RShoulder", 7: "LElbow", 8: "RElbow", 9: "LWrist", 10: "RWrist",
                  11: "LHip", 12: "RHip", 13: "LKnee", 14: "RKnee", 15: "LAnkle", 16: "RAnkle"}


def load_pose2sim_frame(root: Path, frame: int):
    """Cameras, BODY_25B keypoints ``(25, V, 2)`` px and confidences ``(25, V)`` of the most confident person
    per view, the reference 3D of the mapped joints ``(J, 3)`` (Z-up world, metres) and their BODY_25B indices.

    Read here with the standard library so these tests do not depend on lift3d's readers.
    """
    demo = root / "pose2sim_demo"
    calib = tomllib.loads((demo / "calibration" / "Calib_qualisys.toml").read_text())
    names = [k for k in calib if k != "metadata"]
    cams = CameraSet.from_numpy(
        np.array([calib[n]["matrix"] for n in names]),
        np.array([calib[n]["rotation"] for n in names]),
        np.array([calib[n]["translation"] for n in names]),
        np.array([calib[n]["distortions"] for n in names]),
        np.array([calib[n]["size"] for n in names]),
        names,
    )
    kp, conf = [], []
    for v in range(1, 5):
        path = demo / "single_balancing" / "pose_2d" / f"cam0{v}_json" / f"cam0{v}.{frame:04d}.json"
        people = json.loads(path.read_text())["people"]
        arr = max((np.reshape(p["pose_keypoints_2d"], (-1, 3)) for p in people), key=lambda a: a[:, 2].sum())
        kp.append(arr[:, :2])
        conf.append(arr[:, 2])
    trc = demo / "single_balancing" / "pose_3d" / "S00_P00_T01_BalancingTrial_0-100.trc"
    lines = trc.read_text().splitlines()
    markers = [m for m in lines[3].split("\t")[2:] if m]
    row = next(r.split("\t") for r in lines[5:] if r.strip() and int(r.split("\t")[0]) == frame + 1)
    xyz = np.array(row[2 : 2 + 3 * len(markers)], dtype=float).reshape(-1, 3)[:, [2, 0, 1]]  # Y-up -> Z-up
    joints = sorted(BODY25B_TO_TRC)
    ref = np.array([xyz[markers.index(BODY25B_TO_TRC[j])] for j in joints])
    return cams, np.stack(kp, 1), np.stack(conf, 1), ref, joints


@pytest.fixture
def pose2sim(shared_data) -> Callable:
    """``frame -> load_pose2sim_frame(shared_data, frame)``; skips when the shared data is absent."""
    return lambda frame: load_pose2sim_frame(shared_data, frame)
