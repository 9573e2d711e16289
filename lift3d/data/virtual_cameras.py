"""Virtual synchronized cameras placed around a mocap subject.

A rig of V pinhole cameras (no distortion) in the Z-up world of :class:`lift3d.mocap.clip.MocapClip`, each
looking at the subject from a random yaw, distance, height and field of view in realistic ranges, refitted
backwards along its optical axis until the subject stays in frame. Cameras follow lift3d's convention
(OpenCV: x right, y down, z forward; ``X_cam = R @ X_world + t``; metres, pixels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass
class VirtualCameraConfig:
    """Ranges the rig is drawn from (uniform in each ``(low, high)``).

    Attributes:
        yaw_mode: ``spread`` puts the V cameras evenly around the subject (random offset plus
            ``yaw_jitter_deg``); ``uniform`` draws every yaw independently over the full circle.
        distance_m: horizontal distance from the subject's mean position to the camera.
        height_m: camera height above the floor.
        hfov_deg: horizontal field of view; focal length in px = (W/2) / tan(hfov/2).
        image_sizes: (width, height) choices, landscape and portrait.
        aim_height_m: height above the floor of the point the camera looks at.
        aim_jitter_m: random horizontal offset of that point (subject not always centred).
        roll_deg: camera roll drawn from ``[-roll_deg, roll_deg]``.
        principal_jitter: principal point offset from the image centre, as a fraction of the size.
        min_in_frame: fraction of joint positions over the take that must project inside the image; the camera
            is moved back horizontally, away from the point it looks at (15% a step), until it holds, so the
            final distance can exceed ``distance_m``.
    """

    yaw_mode: Literal["spread", "uniform"] = "spread"
    yaw_jitter_deg: float = 20.0
    distance_m: tuple[float, float] = (3.0, 6.0)
    height_m: tuple[float, float] = (0.5, 2.2)
    hfov_deg: tuple[float, float] = (45.0, 75.0)
    image_sizes: list[tuple[int, int]] = field(
        default_factory=lambda: [(1920, 1080), (1280, 720), (1080, 1920), (720, 1280)]
    )
    aim_height_m: tuple[float, float] = (0.7, 1.3)
    aim_jitter_m: float = 0.3
    roll_deg: float = 3.0
    principal_jitter: float = 0.02
    min_in_frame: float = 0.98
    max_refits: int = 20


@dataclass
class CameraRig:
    """V cameras as arrays: ``K (V,3,3)``, ``R (V,3,3)``, ``t (V,3)``, ``image_size (V,2)`` (width, height)."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: np.ndarray

    @property
    def num_views(self) -> int:
        return self.K.shape[0]


def look_at(center: np.ndarray, target: np.ndarray, roll_rad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``(R, t)`` of a camera at ``center`` looking at ``target`` in a Z-up world."""
    forward = target - center
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down: any right vector will do
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: camera x, y, z axes in world coordinates
    c, s = np.cos(roll_rad), np.sin(roll_rad)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
    return R, -R @ center


def project(points_world: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole projection of ``(..., 3)`` world points for one camera: ``(px (..., 2), depth (...))``."""
    cam = points_world @ R.T + t
    depth = cam[..., 2]
    z = np.maximum(depth, 1e-6)[..., None]
    px = (cam[..., :2] / z) @ K[:2, :2].T + K[:2, 2]
    return px, depth


def in_frame(px: np.ndarray, depth: np.ndarray, image_size) -> np.ndarray:
    """Boolean mask of points in front of the camera and inside the image."""
    w, h = image_size
    return (depth > 0.1) & (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)


def sample_rig(pose3d_world_m: np.ndarray, views: int, cfg: VirtualCameraConfig, rng: np.random.Generator) -> CameraRig:
    """Draw a rig of ``views`` cameras around a take ``(T, J, 3)`` (Z-up world, metres)."""
    T, J, _ = pose3d_world_m.shape
    floor = np.percentile(pose3d_world_m[..., 2], 1.0)
    centre_xy = pose3d_world_m[:, 0, :2].mean(axis=0)
    offset = rng.uniform(0, 2 * np.pi)
    Ks, Rs, ts, sizes = [], [], [], []
    for v in range(views):
        if cfg.yaw_mode == "spread":
            yaw = offset + 2 * np.pi * v / views + np.deg2rad(rng.uniform(-cfg.yaw_jitter_deg, cfg.yaw_jitter_deg))
        else:
            yaw = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(*cfg.distance_m)
        aim = np.array([*(centre_xy + rng.uniform(-cfg.aim_jitter_m, cfg.aim_jitter_m, 2)), floor + rng.uniform(*cfg.aim_height_m)])
        center = np.array([*(centre_xy + dist * np.array([np.cos(yaw), np.sin(yaw)])), floor + rng.uniform(*cfg.height_m)])
        w, h = cfg.image_sizes[rng.integers(len(cfg.image_sizes))]
        f = (w / 2) / np.tan(np.deg2rad(rng.uniform(*cfg.hfov_deg)) / 2)
        cx = w / 2 + rng.uniform(-1, 1) * cfg.principal_jitter * w
        cy = h / 2 + rng.uniform(-1, 1) * cfg.principal_jitter * h
        K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
        roll = np.deg2rad(rng.uniform(-cfg.roll_deg, cfg.roll_deg))
        R, t = look_at(center, aim, roll)
        for _ in range(cfg.max_refits):
            px, depth = project(pose3d_world_m, K, R, t)
            if in_frame(px, depth, (w, h)).mean() >= cfg.min_in_frame:
                break
            center[:2] = aim[:2] + (center[:2] - aim[:2]) * 1.15  # step back, keeping the camera's height
            R, t = look_at(center, aim, roll)
        Ks.append(K)
        Rs.append(R)
        ts.append(t)
        sizes.append((w, h))
    return CameraRig(np.stack(Ks), np.stack(Rs), np.stack(ts), np.asarray(sizes, dtype=np.int64))
