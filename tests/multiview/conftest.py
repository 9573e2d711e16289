"""Fixtures: a synthetic multi-view scene (a moving body seen by virtual cameras) with exact 2D."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.data.virtual_cameras import VirtualCameraConfig, project, sample_rig
from lift3d.geometry import CameraSet
from lift3d.multiview.views import MultiView2D




def walking_pose(T: int = 60, seed: int = 0) -> np.ndarray:
    """``(T, 17, 3)`` a plausible, moving H36M-17 body, Z-up world, metres (from a fixed rest pose)."""
    rest = np.array([
        [0, 0, 1.0], [-0.12, 0, 1.0], [-0.12, 0.02, 0.55], [-0.12, 0, 0.1], [0.12, 0, 1.0], [0.12, 0.02, 0.55],
        [0.12, 0, 0.1], [0, 0, 1.25], [0, 0, 1.5], [0, 0.02, 1.6], [0, 0.03, 1.75], [0.2, 0, 1.48],
        [0.45, 0.05, 1.4], [0.65, 0.1, 1.3], [-0.2, 0, 1.48], [-0.45, 0.05, 1.4], [-0.65, 0.1, 1.3],
    ])
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / 30.0
    wobble = 0.08 * np.sin(2 * np.pi * (0.7 * t + rng.random((1, 17, 3))))
    walk = np.stack([0.6 * t[..., 0, 0], 0.2 * np.sin(t[..., 0, 0]), 0 * t[..., 0, 0]], axis=-1)[:, None]
    return rest[None] + wobble + walk


def render(pose: np.ndarray, views: int = 4, seed: int = 1):
    """Exact 2D of ``pose`` seen by ``views`` random virtual cameras: ``(MultiView2D, CameraSet)``."""
    rig = sample_rig(pose, views, VirtualCameraConfig(), np.random.default_rng(seed))
    kp = np.stack([project(pose, rig.K[v], rig.R[v], rig.t[v])[0] for v in range(views)])  # (V, T, 17, 2)
    names = tuple(f"cam{v}" for v in range(views))
    mv = MultiView2D(kp2d_px=kp, conf=np.ones(kp.shape[:3]), fps=30.0, names=names, image_size=rig.image_size)
    cams = CameraSet.from_numpy(K=rig.K, R=rig.R, t=rig.t, image_size=mv.image_size, names=names)
    return mv, cams


@pytest.fixture(scope="module")
def scene():
    pose = walking_pose()
    mv, cams = render(pose)
    return pose, mv, cams


@pytest.fixture(scope="session")
def make_pose():
    """``make_pose(T, seed)``: see :func:`walking_pose`."""
    return walking_pose


@pytest.fixture(scope="session")
def make_views():
    """``make_views(pose, views, seed)``: see :func:`render`."""
    return render
