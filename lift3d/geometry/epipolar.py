"""Two-view epipolar geometry: fundamental and essential matrices, epipolar distances, relative pose.

Convention: correspondences satisfy ``x2^T F x1 = 0`` (image 1 to image 2), and the relative pose maps camera
1 to camera 2, ``X_cam2 = R @ X_cam1 + t``, so ``E = [t]_x R`` and ``F = K2^-T E K1^-1`` (Hartley &
Zisserman 2nd ed. Sec. 9.6). Image points are undistorted pixels (or undistorted normalised coordinates
where stated); see :func:`lift3d.geometry.undistort_pixels`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as nnf

from lift3d.errors import InputError
from lift3d.geometry._checks import check_same_size, check_tensor
from lift3d.geometry.camera import world_to_camera
from lift3d.geometry.rotations import axis_angle_to_matrix, skew_symmetric
from lift3d.geometry.triangulation import triangulate_dlt


def _homogeneous(x: Tensor) -> Tensor:
    return torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)


def _check_pairs(x1: Tensor, x2: Tensor, weights: Tensor | None = None) -> None:
    check_tensor(x1, "x1", None, 2)
    check_tensor(x2, "x2", None, 2)
    check_same_size("x1", x1, -2, "x2", x2, -2)
    if weights is not None:
        check_tensor(weights, "weights", None)
        check_same_size("weights", weights, -1, "x1", x1, -2)


def _normalizing_transform(x: Tensor, w: Tensor) -> Tensor:
    """Similarity ``T (..., 3, 3)`` moving the weighted centroid to 0 and the mean distance to sqrt(2).

    H&Z 2nd ed. Sec. 4.4.4 and Alg. 11.1 step (i).
    """
    total = w.sum(-1).clamp(min=torch.finfo(x.dtype).tiny)  # (...)
    mean = (x * w[..., None]).sum(-2) / total[..., None]  # (..., 2)
    dist = torch.linalg.vector_norm(x - mean[..., None, :], dim=-1)  # (..., N)
    s = math.sqrt(2) / ((dist * w).sum(-1) / total).clamp(min=torch.finfo(x.dtype).tiny)  # (...)
    zero, one = torch.zeros_like(s), torch.ones_like(s)
    return torch.stack(
        [s, zero, -s * mean[..., 0], zero, s, -s * mean[..., 1], zero, zero, one], dim=-1
    ).unflatten(-1, (3, 3))  # (..., 3, 3)


def fundamental_from_points(x1: Tensor, x2: Tensor, weights: Tensor | None = None) -> Tensor:
    """Normalised, weighted 8-point algorithm (H&Z 2nd ed. Sec. 11.2, Alg. 11.1), rank 2 enforced.

    Each correspondence gives one row of ``A f = 0`` in normalised coordinates, multiplied by its weight;
    ``f`` is the right singular vector of the smallest singular value; the closest rank-2 matrix (Frobenius)
    is taken by zeroing the smallest singular value of ``F``; the result is denormalised and scaled to unit
    Frobenius norm.

    Args:
        x1: ``(..., N, 2)`` undistorted pixels in image 1, ``N >= 8``.
        x2: ``(..., N, 2)`` corresponding pixels in image 2.
        weights: ``(..., N)`` non-negative, optional; at least 8 must be positive.

    Returns:
        ``F (..., 3, 3)`` with ``x2^T F x1 ~ 0``, unit Frobenius norm.
    """
    _check_pairs(x1, x2, weights)
    N = x1.shape[-2]
    w = x1.new_ones(N) if weights is None else weights.clamp(min=0)
    if N < 8 or bool(((w > 0).sum(-1) < 8).any()):
        raise InputError(f"fundamental_from_points: need at least 8 correspondences with positive weight, got N={N}")
    x1, x2 = torch.broadcast_tensors(x1, x2)
    T1, T2 = _normalizing_transform(x1, w), _normalizing_transform(x2, w)
    p1 = (_homogeneous(x1) @ T1.mT)[..., :2]  # (..., N, 2)
    p2 = (_homogeneous(x2) @ T2.mT)[..., :2]
    (u1, v1), (u2, v2) = p1.unbind(-1), p2.unbind(-1)
    one = torch.ones_like(u1)
    A = torch.stack([u2 * u1, u2 * v1, u2, v2 * u1, v2 * v1, v2, u1, v1, one], dim=-1) * w[..., None]  # (..., N, 9)
    if N < 9:
        A = nnf.pad(A, (0, 0, 0, 9 - N))  # a zero row keeps the null space in the reduced SVD
    Fn = torch.linalg.svd(A, full_matrices=False).Vh[..., -1, :].unflatten(-1, (3, 3))  # (..., 3, 3)
    U, S, Vh = torch.linalg.svd(Fn)
    S = S * torch.tensor([1.0, 1.0, 0.0], dtype=S.dtype, device=S.device)
    Fm = T2.mT @ (U * S[..., None, :]) @ Vh @ T1
    return Fm / torch.linalg.matrix_norm(Fm)[..., None, None]


def essential_from_fundamental(F: Tensor, K1: Tensor, K2: Tensor) -> Tensor:
    """``E = K2^T F K1`` (H&Z 2nd ed. Eq. 9.12).

    Args:
        F: ``(..., 3, 3)``.
        K1: ``(..., 3, 3)`` intrinsics of image 1.
        K2: ``(..., 3, 3)`` intrinsics of image 2.

    Returns:
        ``(..., 3, 3)``.
    """
    check_tensor(F, "F", 3, 3)
    check_tensor(K1, "K1", 3, 3)
    check_tensor(K2, "K2", 3, 3)
    return K2.mT @ F @ K1


def fundamental_from_essential(E: Tensor, K1: Tensor, K2: Tensor) -> Tensor:
    """``F = K2^-T E K1^-1`` (H&Z 2nd ed. Eq. 9.12).

    Args:
        E: ``(..., 3, 3)``.
        K1: ``(..., 3, 3)``.
        K2: ``(..., 3, 3)``.

    Returns:
        ``(..., 3, 3)``.
    """
    check_tensor(E, "E", 3, 3)
    check_tensor(K1, "K1", 3, 3)
    check_tensor(K2, "K2", 3, 3)
    return torch.linalg.inv(K2).mT @ E @ torch.linalg.inv(K1)


def essential_from_pose(R: Tensor, t: Tensor) -> Tensor:
    """``E = [t]_x R`` for ``X_cam2 = R X_cam1 + t`` (H&Z 2nd ed. Eq. 9.11).

    Args:
        R: ``(..., 3, 3)``.
        t: ``(..., 3)``.

    Returns:
        ``(..., 3, 3)``.
    """
    check_tensor(R, "R", 3, 3)
    return skew_symmetric(t) @ R


def _epipolar_terms(x1: Tensor, x2: Tensor, F: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    _check_pairs(x1, x2)
    check_tensor(F, "F", 3, 3)
    h1, h2 = _homogeneous(x1), _homogeneous(x2)  # (..., N, 3)
    Fx1 = h1 @ F.mT  # (..., N, 3): epipolar lines in image 2
    Ftx2 = h2 @ F  # (..., N, 3): epipolar lines in image 1
    residual = (h2 * Fx1).sum(-1)  # (..., N): x2^T F x1
    return residual, (Fx1[..., :2] ** 2).sum(-1), (Ftx2[..., :2] ** 2).sum(-1)


def sampson_distance(x1: Tensor, x2: Tensor, F: Tensor, *, squared: bool = True, eps: float = 1e-12) -> Tensor:
    """First-order geometric error of each correspondence (H&Z 2nd ed. Sec. 11.4.3, Eq. 11.9).

    ``(x2^T F x1)^2 / ((F x1)_1^2 + (F x1)_2^2 + (F^T x2)_1^2 + (F^T x2)_2^2)``: the squared distance, summed
    over both images, of the smallest correction that puts the pair on the epipolar geometry.

    Args:
        x1: ``(..., N, 2)`` pixels in image 1.
        x2: ``(..., N, 2)`` pixels in image 2.
        F: ``(..., 3, 3)``.
        squared: return px^2 (as H&Z) if True, else its square root, px.
        eps: floor of the denominator.

    Returns:
        ``(..., N)``.
    """
    r, l2, l1 = _epipolar_terms(x1, x2, F)
    den = (l1 + l2).clamp(min=eps)
    return r * r / den if squared else r.abs() / den.sqrt()


def symmetric_epipolar_distance(
    x1: Tensor, x2: Tensor, F: Tensor, *, squared: bool = True, eps: float = 1e-12
) -> Tensor:
    """Sum of squared point-to-epipolar-line distances in both images (H&Z 2nd ed. Eq. 11.10).

    Args:
        x1: ``(..., N, 2)`` pixels in image 1.
        x2: ``(..., N, 2)`` pixels in image 2.
        F: ``(..., 3, 3)``.
        squared: return px^2 if True, else its square root, px.
        eps: floor of each line-normal length.

    Returns:
        ``(..., N)``.
    """
    r, l2, l1 = _epipolar_terms(x1, x2, F)
    d2 = r * r * (1 / l2.clamp(min=eps) + 1 / l1.clamp(min=eps))
    return d2 if squared else r.abs() * (1 / l2.clamp(min=eps) + 1 / l1.clamp(min=eps)).sqrt()


def decompose_essential(E: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The two rotations and the translation direction of an essential matrix (H&Z 2nd ed. Sec. 9.6.2).

    With ``E = U diag(1, 1, 0) V^T`` (``det U = det V = +1``), the four poses are ``(R1, t)``, ``(R1, -t)``,
    ``(R2, t)``, ``(R2, -t)``, ``R1 = U W V^T``, ``R2 = U W^T V^T``, ``t = u3``. Choose with
    :func:`recover_pose`. ``R1`` is the one with the smaller angle and ``t``'s largest component is positive,
    so the outputs do not depend on the SVD's sign choices. Gradients need distinct singular values: they
    exist for an estimated ``E`` but not for an exact one (``s1 = s2``).

    Args:
        E: ``(..., 3, 3)``.

    Returns:
        ``R1 (..., 3, 3)``, ``R2 (..., 3, 3)``, ``t (..., 3)`` unit norm.
    """
    check_tensor(E, "E", 3, 3)
    U, _, Vh = torch.linalg.svd(E)
    # Flipping U or V changes only the sign of E, which is defined up to scale.
    U = U * torch.where(torch.linalg.det(U) < 0, -1.0, 1.0)[..., None, None]
    Vh = Vh * torch.where(torch.linalg.det(Vh) < 0, -1.0, 1.0)[..., None, None]
    W = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=E.dtype, device=E.device)
    Ra, Rb, t = U @ W @ Vh, U @ W.mT @ Vh, U[..., :, 2]
    # The SVD's sign choices would swap R1 and R2 and flip t arbitrarily (and so make the outputs jump under
    # tiny changes of E); fix the labels instead: R1 is the smaller rotation, t's largest component is > 0.
    swap = (Rb.diagonal(dim1=-2, dim2=-1).sum(-1) > Ra.diagonal(dim1=-2, dim2=-1).sum(-1))[..., None, None]
    R1, R2 = torch.where(swap, Rb, Ra), torch.where(swap, Ra, Rb)
    t_big = t.gather(-1, t.abs().argmax(-1, keepdim=True))  # (..., 1)
    return R1, R2, torch.where(t_big < 0, -t, t)


def recover_pose(
    E: Tensor, x1_norm: Tensor, x2_norm: Tensor, weights: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Pick the pose of :func:`decompose_essential` that puts the most points in front of both cameras.

    Every correspondence is triangulated (:func:`lift3d.geometry.triangulate_dlt`) under each of the four
    candidate poses; the candidate with the largest weighted count of points with positive depth in both
    cameras wins (H&Z 2nd ed. Sec. 9.6.3). Differentiable through the chosen candidate.

    Args:
        E: ``(..., 3, 3)``.
        x1_norm: ``(..., N, 2)`` undistorted normalised coordinates in image 1 (``K1^-1 x``).
        x2_norm: ``(..., N, 2)`` same for image 2.
        weights: ``(..., N)`` non-negative, optional.

    Returns:
        ``R (..., 3, 3)`` and unit ``t (..., 3)`` with ``X_cam2 = R X_cam1 + t * baseline``.
    """
    _check_pairs(x1_norm, x2_norm, weights)
    R1, R2, t = decompose_essential(E)
    Rs = torch.stack([R1, R1, R2, R2], dim=-3)  # (..., 4, 3, 3)
    ts = torch.stack([t, -t, t, -t], dim=-2)  # (..., 4, 3)
    P1 = torch.eye(3, 4, dtype=E.dtype, device=E.device).expand(Rs.shape[:-2] + (3, 4))
    P = torch.stack([P1, torch.cat([Rs, ts[..., None]], dim=-1)], dim=-3)  # (..., 4, 2, 3, 4)
    kp = torch.stack(torch.broadcast_tensors(x1_norm, x2_norm), dim=-2)  # (..., N, 2, 2)
    X = triangulate_dlt(kp[..., None, :, :, :], P[..., :, None, :, :, :])  # (..., 4, N, 3)
    z2 = world_to_camera(X, Rs, ts)[..., 2]  # (..., 4, N)
    w = x1_norm.new_ones(x1_norm.shape[-2]) if weights is None else weights.clamp(min=0)
    score = (((X[..., 2] > 0) & (z2 > 0)).to(E.dtype) * w[..., None, :]).sum(-1)  # (..., 4)
    best = nnf.one_hot(score.argmax(-1), 4).to(E.dtype)  # (..., 4)
    R = (Rs * best[..., None, None]).sum(-3)
    t_best = (ts * best[..., None]).sum(-2)
    return R, t_best


def _refine_pose_sampson(
    R: Tensor, t: Tensor, x1: Tensor, x2: Tensor, K1: Tensor, K2: Tensor, w: Tensor, iters: int = 50
) -> Tensor:
    """Essential matrix of the pose minimising the weighted Sampson error in pixels (H&Z 2nd ed. Sec. 11.4.3).

    Parametrised as ``R = exp([d]_x) R0`` and ``t / |t|``, started at ``(R0, t0)``, solved with L-BFGS.
    """
    d = torch.zeros(3, dtype=R.dtype, requires_grad=True)
    t = t.clone().requires_grad_()
    opt = torch.optim.LBFGS([d, t], max_iter=iters, line_search_fn="strong_wolfe", tolerance_change=1e-14)

    def pose_E() -> Tensor:
        return essential_from_pose(axis_angle_to_matrix(d) @ R, t / t.norm())

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (w * sampson_distance(x1, x2, fundamental_from_essential(pose_E(), K1, K2))).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return pose_E().detach()


def estimate_relative_pose(
    x1_px: Tensor | np.ndarray,
    x2_px: Tensor | np.ndarray,
    K1: Tensor | np.ndarray,
    K2: Tensor | np.ndarray,
    weights: Tensor | np.ndarray | None = None,
    *,
    ransac_threshold_px: float = 3.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Relative pose of two cameras from pixel correspondences: 5-point RANSAC, then Sampson refinement.

    The edge function for real data. ``cv2.findEssentialMat`` (Nister's 5-point solver in RANSAC) and
    ``cv2.recoverPose`` run on normalised coordinates ``K^-1 x``, so the two cameras may differ; the pose is
    then refined on the RANSAC inliers by minimising their weighted Sampson error in pixels (about 4 times
    more accurate than the best minimal sample), and the cheirality test is redone for the final inlier mask.
    **Not differentiable.** It seeds OpenCV's global RNG (``cv2.setRNGSeed(seed)``) so results repeat.
    Correspondences with weight <= 0 or non-finite coordinates are left out; the weights count only in the
    refinement (OpenCV's RANSAC is unweighted).

    Args:
        x1_px: ``(N, 2)`` undistorted pixels in image 1.
        x2_px: ``(N, 2)`` undistorted pixels in image 2.
        K1: ``(3, 3)``.
        K2: ``(3, 3)``.
        weights: ``(N,)``, optional.
        ransac_threshold_px: inlier threshold, pixels (converted with the mean focal length).
        seed: seed of OpenCV's RNG.

    Returns:
        ``R (3, 3)``, unit ``t (3,)`` (camera 1 to camera 2, float64 tensors) and ``inlier_mask (N,)`` bool
        (RANSAC inliers in front of both cameras).

    Raises:
        InputError: wrong shapes, fewer than 8 usable (or distinct) correspondences, or no pose with points in
            front of both cameras (e.g. no motion between the images).
    """
    import cv2  # the only OpenCV use in lift3d.geometry; kept local to this edge function

    def to_np(a, name, shape):
        arr = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
        arr = arr.astype(np.float64)
        if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
            raise InputError(f"{name}: expected shape {shape}, got {arr.shape}")
        return arr

    x1 = to_np(x1_px, "x1_px", (None, 2))
    x2 = to_np(x2_px, "x2_px", (x1.shape[0], 2))
    k1, k2 = to_np(K1, "K1", (3, 3)), to_np(K2, "K2", (3, 3))
    w = np.ones(len(x1)) if weights is None else to_np(weights, "weights", (x1.shape[0],))
    usable = (w > 0) & np.isfinite(x1).all(1) & np.isfinite(x2).all(1)
    n_usable = int(usable.sum())
    if n_usable < 8:
        raise InputError(f"estimate_relative_pose: need at least 8 usable correspondences, got {n_usable}")
    n_distinct = len(np.unique(np.round(np.hstack([x1[usable], x2[usable]]), 3), axis=0))
    if n_distinct < 8:
        raise InputError(f"estimate_relative_pose: need at least 8 distinct correspondences, got {n_distinct}")
    n1 = cv2.undistortPoints(x1[usable].reshape(-1, 1, 2), k1, None).reshape(-1, 2)
    n2 = cv2.undistortPoints(x2[usable].reshape(-1, 1, 2), k2, None).reshape(-1, 2)
    focal = np.mean([k1[0, 0], k1[1, 1], k2[0, 0], k2[1, 1]])
    cv2.setRNGSeed(int(seed))
    E, mask = cv2.findEssentialMat(
        n1, n2, cameraMatrix=np.eye(3), method=cv2.RANSAC, prob=0.999, threshold=ransac_threshold_px / focal
    )
    if E is None or E.shape[0] < 3 or mask is None:
        raise InputError("estimate_relative_pose: no essential matrix found (degenerate correspondences)")
    _, R0, t0, _ = cv2.recoverPose(E[:3], n1, n2, cameraMatrix=np.eye(3), mask=mask.copy())
    inl = mask.ravel() > 0
    x1_in, x2_in, w_in = (torch.from_numpy(a[usable][inl]) for a in (x1, x2, w))
    with torch.enable_grad():  # the refinement uses autograd even if the caller is in no_grad mode
        E = _refine_pose_sampson(
            torch.from_numpy(R0), torch.from_numpy(t0.ravel()), x1_in, x2_in, torch.from_numpy(k1),
            torch.from_numpy(k2), w_in,
        ).numpy()
    n_good, R, t, pose_mask = cv2.recoverPose(E, n1, n2, cameraMatrix=np.eye(3), mask=mask.copy())
    if n_good < 5:
        raise InputError(
            f"estimate_relative_pose: only {n_good} correspondences in front of both cameras (degenerate input)"
        )
    inliers = np.zeros(len(x1), dtype=bool)
    inliers[np.flatnonzero(usable)] = pose_mask.ravel() > 0
    return torch.from_numpy(R.copy()), torch.from_numpy(t.ravel().copy()), torch.from_numpy(inliers)
