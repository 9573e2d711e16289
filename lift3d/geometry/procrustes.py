"""Least-squares alignment of corresponding 3D point sets (Kabsch, Umeyama).

Both solve ``min sum_i w_i |s R x_i + t - y_i|^2`` over rotations ``R`` (``det R = +1``, reflections excluded),
translations ``t`` and, for the similarity version, a scale ``s > 0`` (Umeyama, "Least-squares estimation of
transformation parameters between two point patterns", IEEE TPAMI 1991, Eqs. 34-42). Batched over leading
dimensions; differentiable where the cross-covariance has distinct singular values (generic point sets).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lift3d.geometry._checks import check_same_size, check_tensor


def _weighted_moments(source: Tensor, target: Tensor, weights: Tensor | None):
    """Weighted means ``(..., 3)``, cross-covariance ``(..., 3, 3)`` and source variance ``(...)``."""
    check_tensor(source, "source", None, 3)
    check_tensor(target, "target", None, 3)
    check_same_size("source", source, -2, "target", target, -2)
    if weights is None:
        weights = source.new_ones(source.shape[-2])
    else:
        check_tensor(weights, "weights", None)
        check_same_size("weights", weights, -1, "source", source, -2)
    w = weights.clamp(min=0)[..., None]  # (..., N, 1)
    total = w.sum(-2).clamp(min=torch.finfo(source.dtype).tiny)  # (..., 1)
    mu_s = (w * source).sum(-2) / total  # (..., 3)
    mu_t = (w * target).sum(-2) / total
    src = source - mu_s[..., None, :]  # (..., N, 3)
    tgt = target - mu_t[..., None, :]
    cov = (w * tgt).mT @ src / total[..., None]  # (..., 3, 3): Sigma_xy of Umeyama, target x source
    var_s = (w * src * src).sum((-2, -1)) / total[..., 0]  # (...)
    return mu_s, mu_t, cov, var_s


def _rotation_from_cov(cov: Tensor) -> tuple[Tensor, Tensor]:
    """Optimal rotation ``U S V^T`` and the sum ``tr(D S)`` (Umeyama Eqs. 39-40)."""
    U, D, Vh = torch.linalg.svd(cov)
    # S = diag(1, 1, sign(det U det V)) keeps det R = +1 (no reflection).
    d = torch.where(torch.linalg.det(U) * torch.linalg.det(Vh) < 0, -1.0, 1.0).to(cov.dtype)
    S = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)  # (..., 3)
    R = (U * S[..., None, :]) @ Vh
    return R, (D * S).sum(-1)


def rigid_align(source: Tensor, target: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Rotation and translation minimising ``sum_i w_i |R source_i + t - target_i|^2`` (Kabsch).

    Args:
        source: ``(..., N, 3)``.
        target: ``(..., N, 3)``, same unit as ``source``.
        weights: ``(..., N)`` non-negative, optional (all ones). Zero-weight points are ignored.

    Returns:
        ``R (..., 3, 3)`` with ``det R = +1`` and ``t (..., 3)`` in the points' unit.

    Example:
        >>> x = torch.randn(10, 3, dtype=torch.float64)
        >>> R, t = rigid_align(x, x + 1.0)
        >>> bool(torch.allclose(R, torch.eye(3, dtype=torch.float64))), t.round(decimals=6).tolist()
        (True, [1.0, 1.0, 1.0])
    """
    mu_s, mu_t, cov, _ = _weighted_moments(source, target, weights)
    R, _ = _rotation_from_cov(cov)
    t = mu_t - (R @ mu_s[..., None])[..., 0]
    return R, t


def similarity_align(
    source: Tensor, target: Tensor, weights: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Scale, rotation and translation minimising ``sum_i w_i |s R source_i + t - target_i|^2`` (Umeyama).

    Args:
        source: ``(..., N, 3)``.
        target: ``(..., N, 3)``.
        weights: ``(..., N)`` non-negative, optional.

    Returns:
        ``scale (...)`` (unitless, ``target``'s unit per ``source``'s unit), ``R (..., 3, 3)``, ``t (..., 3)``.
    """
    mu_s, mu_t, cov, var_s = _weighted_moments(source, target, weights)
    R, trace_ds = _rotation_from_cov(cov)
    scale = trace_ds / var_s.clamp(min=torch.finfo(source.dtype).tiny)  # Umeyama Eq. 42
    t = mu_t - scale[..., None] * (R @ mu_s[..., None])[..., 0]
    return scale, R, t


def apply_rigid(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """``R @ p + t`` for every point.

    Args:
        points: ``(..., N, 3)``.
        R: ``(..., 3, 3)``.
        t: ``(..., 3)``.

    Returns:
        ``(..., N, 3)``.
    """
    check_tensor(points, "points", None, 3)
    check_tensor(R, "R", 3, 3)
    check_tensor(t, "t", 3)
    return points @ R.mT + t[..., None, :]


def apply_similarity(points: Tensor, scale: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """``scale * R @ p + t`` for every point.

    Args:
        points: ``(..., N, 3)``.
        scale: ``(...)``.
        R: ``(..., 3, 3)``.
        t: ``(..., 3)``.

    Returns:
        ``(..., N, 3)``.
    """
    check_tensor(scale, "scale")
    return apply_rigid(points * scale[..., None, None], R, t)
