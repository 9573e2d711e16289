"""Multi-view triangulation of 2D keypoints: weighted linear (DLT) and robust (outlier views dropped).

Inputs are **undistorted** pixels: callers remove lens distortion first with
:func:`lift3d.geometry.undistort_pixels` (or :meth:`CameraSet.undistort`) and pass the projection matrices
``P = K [R | t]`` (:func:`lift3d.geometry.projection_matrix`). Missing views have confidence 0 (their
coordinates are ignored); non-finite coordinates are treated as missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from lift3d.errors import InputError
from lift3d.geometry._checks import check_same_size, check_tensor, eps_of


def _check_views(kp2d_px: Tensor, P: Tensor, conf: Tensor | None) -> None:
    check_tensor(kp2d_px, "kp2d_px", None, 2)
    check_tensor(P, "P", None, 3, 4)
    check_same_size("kp2d_px", kp2d_px, -2, "P", P, -3)
    if conf is not None:
        check_tensor(conf, "conf", None)
        check_same_size("conf", conf, -1, "kp2d_px", kp2d_px, -2)


def _conditioning(P: Tensor, seen: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """3D normalisation from the centres of the cameras that see the point.

    ``P_n = P H`` with ``X = scale X_n + center``. Centring the world on the seeing cameras' centroid and
    scaling by their RMS distance from it makes the four columns of the DLT matrix comparable in size (H&Z
    2nd ed. Sec. 4.4.4 applied to the 3D side), whatever the world origin and unit. Views with ``seen =
    False`` play no part, so a view of confidence 0 has no influence at all. Returns ``P_n (..., V, 3, 4)``,
    ``center (..., 3)``, ``scale (...)``; if a seeing camera has no centre (singular ``M``), the identity is
    used.
    """
    M, p4 = P[..., :3], P[..., 3]
    det = torch.linalg.det(M)
    ok = det.abs() > eps_of(P) * M.detach().flatten(-2).abs().amax(-1).pow(3)  # (..., V)
    eye = torch.eye(3, dtype=P.dtype, device=P.device)
    M_safe = torch.where(ok[..., None, None], M, eye)  # keeps NaN out of the gradients of unused entries
    centers = -torch.linalg.solve(M_safe, p4[..., None])[..., 0]  # (..., V, 3), on P's batch shape
    w = seen.to(P.dtype)  # (..., V)
    n = w.sum(-1).clamp(min=1)  # (...)
    use = (ok | ~seen).all(-1) & (w.sum(-1) > 0)  # (...)
    center = torch.where(use[..., None], (w[..., None] * centers).sum(-2) / n[..., None], 0.0)  # (..., 3)
    spread = (w * ((centers - center[..., None, :]) ** 2).sum(-1)).sum(-1) / n  # (...)
    good = use & (spread > 0)
    scale = torch.where(good, torch.where(good, spread, 1.0).sqrt(), 1.0)
    col4 = (M @ center[..., None, :, None])[..., 0] + p4  # (..., V, 3)
    M_n = M * scale[..., None, None, None]  # (..., V, 3, 3)
    P_n = torch.cat([M_n, col4[..., None]], dim=-1)  # (..., V, 3, 4)
    return P_n, center, scale


def triangulate_dlt(kp2d_px: Tensor, P: Tensor, conf: Tensor | None = None) -> Tensor:
    """Confidence-weighted linear triangulation (Hartley & Zisserman 2nd ed. Sec. 12.2).

    Each view contributes the rows ``u p3 - p1`` and ``v p3 - p2`` of ``A X = 0``. For conditioning, the
    world is first normalised by the seeing cameras' centres (:func:`_conditioning`) and every row is scaled to unit
    norm, so each view's rows carry comparable algebraic error; both rows are then multiplied by the view's
    confidence (0 removes the view). ``X`` is the right singular vector of the smallest singular value.

    Views with non-finite coordinates count as ``conf = 0``. Points seen in fewer than two views are zeros,
    with no NaN in values or gradients; :func:`triangulate_robust` reports them invalid. Differentiable where
    the smallest singular value is simple (any non-degenerate configuration).

    Args:
        kp2d_px: ``(..., V, 2)`` undistorted pixels.
        P: ``(..., V, 3, 4)`` projection matrices, broadcast against ``kp2d_px`` (e.g. ``(V, 3, 4)``).
        conf: ``(..., V)`` non-negative weights, optional (all ones).

    Returns:
        ``(..., 3)`` points in the world frame of ``P`` (metres).

    Example:
        >>> K = torch.tensor([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]], dtype=torch.float64)
        >>> P = torch.stack([K @ torch.eye(3, 4, dtype=torch.float64),
        ...                  K @ torch.tensor([[1.0, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=torch.float64)])
        >>> kp = torch.tensor([[500.0, 500.0], [250.0, 500.0]], dtype=torch.float64)  # X = (0, 0, 4)
        >>> triangulate_dlt(kp, P).round(decimals=9) + 0.0
        tensor([0., 0., 4.], dtype=torch.float64)
    """
    _check_views(kp2d_px, P, conf)
    V = kp2d_px.shape[-2]
    if conf is None:
        conf = kp2d_px.new_ones(kp2d_px.shape[:-1])
    seen = (conf > 0) & torch.isfinite(kp2d_px).all(-1)  # a NaN coordinate counts as missing
    conf = torch.where(seen, conf, 0.0)
    valid = seen.sum(-1) >= 2  # (...)
    kp = torch.where(seen[..., None], kp2d_px, 0.0)
    P_n, center, scale = _conditioning(P, seen)
    uv = kp[..., None]  # (..., V, 2, 1)
    rows = uv * P_n[..., 2:3, :] - P_n[..., :2, :]  # (..., V, 2, 4)
    rows = rows / torch.linalg.vector_norm(rows, dim=-1, keepdim=True).clamp(min=torch.finfo(P.dtype).tiny)
    A = (rows * conf[..., None, None]).flatten(-3, -2)  # (..., 2V, 4)
    if 2 * V < 4:
        A = F.pad(A, (0, 0, 0, 4 - 2 * V))  # (..., 4, 4): zero rows keep the null space
    # Invalid points get a fixed, well-conditioned system so that the SVD backward stays finite for them.
    dummy = torch.zeros(A.shape[-2:], dtype=A.dtype, device=A.device)
    dummy[:4] = torch.diag(torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=A.dtype, device=A.device))
    A = torch.where(valid[..., None, None], A, dummy)
    Xh = torch.linalg.svd(A, full_matrices=False).Vh[..., -1, :]  # (..., 4), unit norm
    w = Xh[..., 3:]
    w = torch.where(w.abs() < eps_of(w), torch.copysign(torch.full_like(w, eps_of(w)), w), w)
    X = Xh[..., :3] / w * scale[..., None] + center  # undo the normalisation
    return torch.where(valid[..., None], X, 0.0)


def reprojection_error(points: Tensor, kp2d_px: Tensor, P: Tensor) -> Tensor:
    """Pixel distance between each view's projection of ``points`` and its observation.

    Args:
        points: ``(..., 3)`` world points, metres.
        kp2d_px: ``(..., V, 2)`` undistorted pixels.
        P: ``(..., V, 3, 4)``.

    Returns:
        ``(..., V)`` pixels (for every view, whatever its confidence).
    """
    check_tensor(points, "points", 3)
    _check_views(kp2d_px, P, None)
    Xh = torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)  # (..., 4)
    x = (P @ Xh[..., None, :, None])[..., 0]  # (..., V, 3)
    z = x[..., 2:]
    z = torch.where(z.abs() < eps_of(z), torch.copysign(torch.full_like(z, eps_of(z)), z), z)
    return torch.linalg.vector_norm(x[..., :2] / z - kp2d_px, dim=-1)


def _depths(points: Tensor, P: Tensor) -> Tensor:
    """Signed depth of ``points`` in each view (H&Z 2nd ed. Sec. 6.2.3, up to a positive factor): ``(..., V)``."""
    Xh = torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)
    w = (P[..., 2, :] * Xh[..., None, :]).sum(-1)
    return torch.sign(torch.linalg.det(P[..., :3])) * w


@dataclass(frozen=True)
class TriangulationResult:
    """Output of :func:`triangulate_robust`.

    Attributes:
        points: ``(..., 3)`` world points, metres; zeros where not ``valid``.
        valid: ``(...)`` bool: at least ``min_views`` views used, all of them reprojecting within
            ``max_reproj_px``, and the point in front of them.
        view_mask: ``(..., V)`` bool, the views used for ``points``.
        reproj_px: ``(..., V)`` reprojection error of the (unmasked) triangulated point in every view, used
            or not, pixels.
    """

    points: Tensor
    valid: Tensor
    view_mask: Tensor
    reproj_px: Tensor


def triangulate_robust(
    kp2d_px: Tensor,
    P: Tensor,
    conf: Tensor | None = None,
    *,
    max_reproj_px: float = 20.0,
    min_views: int = 2,
    min_conf: float = 0.0,
    outlier_ratio: float = 3.0,
    min_outlier_px: float = 4.0,
) -> TriangulationResult:
    """Triangulate, then drop outlier views one at a time and re-triangulate.

    Views with ``conf <= min_conf`` are never used. Starting from all the others, the view with the largest
    reprojection error is dropped, while more than ``min_views`` views remain, if its error exceeds
    ``max_reproj_px`` or exceeds both ``outlier_ratio`` times the median error of the other used views and
    ``min_outlier_px`` (a wrong detection that a single large-error test would keep because it drags the
    point towards itself). At most ``V - min_views`` rounds, each over all points at once. The view
    selection is not differentiated; the final point is (:func:`triangulate_dlt` on the kept views).

    Args:
        kp2d_px: ``(..., V, 2)`` undistorted pixels.
        P: ``(..., V, 3, 4)``.
        conf: ``(..., V)`` confidences, optional (all ones).
        max_reproj_px: largest acceptable reprojection error, pixels.
        min_views: fewest views to keep (>= 2).
        min_conf: views with ``conf <= min_conf`` are ignored.
        outlier_ratio: relative rule, see above.
        min_outlier_px: the relative rule only drops views above this error, pixels.

    Returns:
        A :class:`TriangulationResult`.
    """
    _check_views(kp2d_px, P, conf)
    if not isinstance(min_views, int) or min_views < 2:
        raise InputError(f"min_views: expected an int >= 2, got {min_views!r}")
    V = kp2d_px.shape[-2]
    if conf is None:
        conf = kp2d_px.new_ones(kp2d_px.shape[:-1])
    batch = torch.broadcast_shapes(kp2d_px.shape[:-2], P.shape[:-3], conf.shape[:-1])
    weight = conf.clamp(min=0)
    mask = ((conf > min_conf) & torch.isfinite(kp2d_px).all(-1)).expand(batch + (V,))  # (..., V)
    with torch.no_grad():
        for _ in range(V - min_views):
            X = triangulate_dlt(kp2d_px, P, weight * mask)
            err = reprojection_error(X, kp2d_px, P)  # (..., V)
            worst = torch.where(mask, err, -1.0).argmax(-1)  # (...)
            worst_1h = F.one_hot(worst, V).bool()  # (..., V)
            worst_err = torch.where(worst_1h, err, 0.0).sum(-1)
            others = mask & ~worst_1h
            median = torch.where(others, err, torch.nan).nanmedian(-1).values  # NaN when no other view
            outlier = (worst_err > max_reproj_px) | (
                (worst_err > outlier_ratio * median) & (worst_err > min_outlier_px)
            )
            drop = outlier & (mask.sum(-1) > min_views)
            if not bool(drop.any()):
                break
            mask = mask & ~(worst_1h & drop[..., None])
    X = triangulate_dlt(kp2d_px, P, weight * mask)
    err = reprojection_error(X, kp2d_px, P)
    with torch.no_grad():
        in_front = torch.where(mask, _depths(X, P) > 0, True).all(-1)
        fits = torch.where(mask, err <= max_reproj_px, True).all(-1)
        valid = (mask.sum(-1) >= min_views) & fits & in_front
    return TriangulationResult(points=torch.where(valid[..., None], X, 0.0), valid=valid, view_mask=mask, reproj_px=err)
