"""Self-supervised lifter losses: labels, 3D-to-2D reprojection, multi-view consistency, bone constancy.

Small named functions returning unweighted terms (STYLE §6); the trainer weights and sums them once. 3D is in
metres, camera or world frame as named; 2D in undistorted pixels; weights are confidences (0 = ignore).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lift3d.metrics import fit_scale
from lift3d.train.losses import bone_lengths

EPS = 1e-8


def _weighted_mean(x: Tensor, w: Tensor, dims: tuple[int, ...] | None = None) -> Tensor:
    """Weighted mean of ``x`` over ``dims`` (all when None): a scalar, or one mean per remaining index."""
    if dims is None:
        return (x * w).sum() / w.sum().clamp(min=EPS)
    return (x * w).sum(dims) / w.sum(dims).clamp(min=EPS)


# Every loss below takes ``dims``: None reduces to one number; a tuple of dimensions (of the per-joint error,
# which has the input's shape without its last axis) reduces only those, e.g. one mean per sample of a batch.


def label_loss(pred: Tensor, label: Tensor, weight: Tensor, dims: tuple[int, ...] | None = None) -> Tensor:
    """Confidence-weighted mean joint distance to the labels: ``(..., J, 3)``, ``(..., J, 3)``, ``(..., J)``."""
    return _weighted_mean(torch.linalg.vector_norm(pred - label, dim=-1), weight, dims)


def scale_invariant_label_loss(pred: Tensor, label: Tensor, weight: Tensor, dims: tuple[int, ...] | None = None) -> Tensor:
    """:func:`label_loss` after scaling each pose by the factor that best fits it to its label (N-MPJPE,
    Rhodin et al. 2018): for labels known only up to scale (uncalibrated cameras)."""
    return label_loss(pred * fit_scale(pred, label, weight)[..., None, None], label, weight, dims)


def project_pinhole(points_cam: Tensor, K: Tensor, min_depth: float = 0.1) -> Tensor:
    """``(..., J, 3)`` camera-frame points, ``(..., 3, 3)`` or ``(3, 3)`` intrinsics -> ``(..., J, 2)`` pixels
    (no distortion). Depth is clamped to ``min_depth`` metres so a prediction behind the camera gives a large,
    finite error."""
    z = points_cam[..., 2].clamp(min=min_depth)
    xn, yn = points_cam[..., 0] / z, points_cam[..., 1] / z  # (..., J)
    fx, s, cx = K[..., 0, 0, None], K[..., 0, 1, None], K[..., 0, 2, None]  # (..., 1)
    fy, cy = K[..., 1, 1, None], K[..., 1, 2, None]
    return torch.stack([fx * xn + s * yn + cx, fy * yn + cy], dim=-1)


def normalized_coords(kp2d_px: Tensor, K: Tensor) -> Tensor:
    """Inverse of :func:`project_pinhole` at depth 1: ``(..., J, 2)`` pixels -> ``(..., J, 2)``."""
    fx, s, cx = K[..., 0, 0, None], K[..., 0, 1, None], K[..., 0, 2, None]
    fy, cy = K[..., 1, 1, None], K[..., 1, 2, None]
    yn = (kp2d_px[..., 1] - cy) / fy
    xn = (kp2d_px[..., 0] - cx - s * yn) / fx
    return torch.stack([xn, yn], dim=-1)


def reprojection_loss(points_cam: Tensor, kp2d_px: Tensor, conf: Tensor, K: Tensor, size_px: Tensor,
                      dims: tuple[int, ...] | None = None) -> Tensor:
    """Confidence-weighted mean distance between the projection of ``points_cam (..., J, 3)`` and the 2D
    ``kp2d_px (..., J, 2)``, in units of the person's size in that image ``size_px (...)``, so views and
    resolutions weigh alike. ``K (..., 3, 3)``."""
    err = torch.linalg.vector_norm(project_pinhole(points_cam, K) - kp2d_px, dim=-1)  # (..., J)
    return _weighted_mean(err / size_px[..., None], conf.expand_as(err), dims)


def solve_root(pose_rel: Tensor, kp2d_px: Tensor, conf: Tensor, K: Tensor, min_depth: float = 0.5) -> Tensor:
    """The camera-frame root position that makes the projection of ``pose_rel + root`` best match the 2D.

    Weighted linear least squares on the normalised image coordinates ``u = K^-1 x``: each joint gives
    ``root_x - u_x root_z = u_x p_z - p_x`` and the same in y (the linearised pinhole of VideoPose3D's
    trajectory model, solved in closed form instead of learned). Differentiable.

    Args:
        pose_rel: ``(..., J, 3)`` root-relative camera-frame 3D, metres.
        kp2d_px: ``(..., J, 2)`` undistorted pixels.
        conf: ``(..., J)`` weights.
        K: ``(..., 3, 3)`` or ``(3, 3)``.

    Returns:
        ``(..., 3)`` root positions with depth at least ``min_depth``.
    """
    u = normalized_coords(kp2d_px, K)  # (..., J, 2)
    w = conf[..., None]  # (..., J, 1)
    # Rows [1, 0, -u_x] and [0, 1, -u_y] per joint; right-hand sides u * p_z - p_xy.
    zeros, ones = torch.zeros_like(u[..., 0]), torch.ones_like(u[..., 0])
    ax = torch.stack([ones, zeros, -u[..., 0]], dim=-1)  # (..., J, 3)
    ay = torch.stack([zeros, ones, -u[..., 1]], dim=-1)
    A = torch.cat([ax, ay], dim=-2)  # (..., 2J, 3)
    b = torch.cat([u[..., 0] * pose_rel[..., 2] - pose_rel[..., 0], u[..., 1] * pose_rel[..., 2] - pose_rel[..., 1]], -1)
    W = torch.cat([w, w], dim=-2)  # (..., 2J, 1)
    AtA = (A * W).mT @ A + 1e-6 * torch.eye(3, dtype=A.dtype, device=A.device)
    Atb = ((A * W).mT @ b[..., None])[..., 0]
    root = torch.linalg.solve(AtA, Atb)
    return torch.cat([root[..., :2], root[..., 2:].clamp(min=min_depth)], dim=-1)


def consistency_loss(pose_world_a: Tensor, pose_world_b: Tensor, weight: Tensor,
                     dims: tuple[int, ...] | None = None) -> Tensor:
    """Two views' predictions of the same frames, rotated into the world (root-relative), should agree:
    ``(..., J, 3)`` each, ``weight (...)`` per frame (``dims`` index the per-frame distance ``(...)``)."""
    d = torch.linalg.vector_norm(pose_world_a - pose_world_b, dim=-1).mean(-1)  # (...)
    return _weighted_mean(d, weight, dims)


def bone_constancy_loss(pred: Tensor) -> Tensor:
    """Mean absolute deviation of each bone's length from its mean over the frames of a window:
    ``(B, T, J, 3)``, metres."""
    lengths = bone_lengths(pred)  # (B, T, n_bones)
    return (lengths - lengths.mean(dim=1, keepdim=True)).abs().mean()
