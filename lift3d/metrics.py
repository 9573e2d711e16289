"""3D pose metrics: small named functions over ``(..., J, 3)`` poses, and per-sequence summaries.

The functions are unit-agnostic (errors come out in the input's unit), torch in and torch out (NumPy arrays
are accepted and converted), and differentiable where that makes sense, so they double as losses. The
summaries :func:`evaluate_sequence` and :func:`evaluate_sequences` take metres and report millimetres as
Python floats, following the Human3.6M / MPI-INF-3DHP protocols as VideoPose3D implements them
(``common/loss.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from lift3d.errors import InputError
from lift3d.geometry.procrustes import apply_similarity, similarity_align

ArrayLike = Tensor | np.ndarray


def _as_tensor(x: ArrayLike, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else x.double()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.asarray(x, dtype=np.float64))
    raise InputError(f"{name}: expected a torch.Tensor or numpy array, got {type(x).__name__}")


def _check_poses(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> None:
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise InputError(
            f"pred and target: expected equal shapes (..., J, 3), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if weights is not None and (weights.ndim < 1 or weights.shape[-1] != pred.shape[-2]):
        raise InputError(f"weights: expected shape (..., J={pred.shape[-2]}), got {tuple(weights.shape)}")


def mpjpe(pred: ArrayLike, target: ArrayLike, weights: ArrayLike | None = None) -> Tensor:
    """Per-joint position error, ``|pred - target|``.

    Args:
        pred: ``(..., J, 3)``.
        target: ``(..., J, 3)``.
        weights: ``(..., J)`` optional, multiplied into the errors (e.g. 0 for joints without ground truth;
            the weighted mean is then ``err.sum() / weights.sum()``).

    Returns:
        ``(..., J)`` in the input's unit.
    """
    pred, target = _as_tensor(pred, "pred"), _as_tensor(target, "target")
    w = None if weights is None else _as_tensor(weights, "weights")
    _check_poses(pred, target, w)
    err = torch.linalg.vector_norm(pred - target, dim=-1)
    return err if w is None else err * w


def p_mpjpe(pred: ArrayLike, target: ArrayLike, weights: ArrayLike | None = None) -> Tensor:
    """Per-joint error after aligning each predicted pose to its target by a similarity (Procrustes).

    Each ``(J, 3)`` pose gets its own scale, rotation and translation (Umeyama 1991), as in the Human3.6M
    "protocol 2" of VideoPose3D.

    Args:
        pred: ``(..., J, 3)``.
        target: ``(..., J, 3)``.
        weights: ``(..., J)`` optional: weights of the alignment, also multiplied into the errors.

    Returns:
        ``(..., J)``.
    """
    pred, target = _as_tensor(pred, "pred"), _as_tensor(target, "target")
    w = None if weights is None else _as_tensor(weights, "weights")
    _check_poses(pred, target, w)
    scale, R, t = similarity_align(pred, target, w)
    return mpjpe(apply_similarity(pred, scale, R, t), target, w)


def n_mpjpe(pred: ArrayLike, target: ArrayLike, weights: ArrayLike | None = None) -> Tensor:
    """Per-joint error after the least-squares scaling of each predicted pose (Rhodin et al., CVPR 2018).

    ``s = sum <pred_j, target_j> / sum |pred_j|^2`` per pose, about the origin: root-centre both first.

    Args:
        pred: ``(..., J, 3)``.
        target: ``(..., J, 3)``.
        weights: ``(..., J)`` optional: weights of the scale fit, also multiplied into the errors.

    Returns:
        ``(..., J)``.
    """
    pred, target = _as_tensor(pred, "pred"), _as_tensor(target, "target")
    w = None if weights is None else _as_tensor(weights, "weights")
    _check_poses(pred, target, w)
    return mpjpe(pred * fit_scale(pred, target, w)[..., None, None], target, w)


def fit_scale(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """The least-squares scale of each pose onto its target (:func:`n_mpjpe`): ``(..., J, 3)`` twice and
    optional ``(..., J)`` weights -> ``(...)``. Differentiable."""
    w = torch.ones_like(pred[..., 0]) if weights is None else weights
    num = (w * (pred * target).sum(-1)).sum(-1)  # (...)
    den = (w * (pred * pred).sum(-1)).sum(-1).clamp(min=torch.finfo(pred.dtype).tiny)
    return num / den


def mpjve(pred: ArrayLike, target: ArrayLike) -> Tensor:
    """Per-joint velocity error: ``|diff(pred) - diff(target)|`` over first differences in time (VideoPose3D).

    Args:
        pred: ``(..., T, J, 3)``, ``T >= 2``.
        target: ``(..., T, J, 3)``.

    Returns:
        ``(..., T - 1, J)`` in the input's unit per frame.
    """
    pred, target = _as_tensor(pred, "pred"), _as_tensor(target, "target")
    _check_poses(pred, target)
    if pred.ndim < 3 or pred.shape[-3] < 2:
        raise InputError(f"mpjve: expected (..., T, J, 3) with T >= 2, got {tuple(pred.shape)}")
    return mpjpe(pred.diff(dim=-3), target.diff(dim=-3))


def pck3d(errors: ArrayLike, threshold: float) -> Tensor:
    """Fraction of errors at or below ``threshold`` (3D PCK, MPI-INF-3DHP; a fraction in [0, 1], not %).

    Args:
        errors: any shape, e.g. ``(..., J)`` from :func:`mpjpe`.
        threshold: same unit as ``errors``.

    Returns:
        0-dim tensor.
    """
    errors = _as_tensor(errors, "errors")
    if errors.numel() == 0:
        raise InputError("pck3d: errors is empty")
    return (errors <= threshold).to(errors.dtype).mean()


def auc(errors: ArrayLike, max_threshold: float, steps: int = 31) -> Tensor:
    """Area under the PCK curve: mean PCK over ``steps`` thresholds evenly spaced in ``[0, max_threshold]``.

    With ``max_threshold = 150`` mm and 31 steps (5 mm apart) this is MPI-INF-3DHP's AUC.

    Args:
        errors: any shape.
        max_threshold: same unit as ``errors``.
        steps: number of thresholds (>= 2).

    Returns:
        0-dim tensor in [0, 1].
    """
    errors = _as_tensor(errors, "errors")
    if errors.numel() == 0 or steps < 2:
        raise InputError(f"auc: need non-empty errors and steps >= 2, got {errors.numel()} errors, steps={steps}")
    thresholds = torch.linspace(0, max_threshold, steps, dtype=errors.dtype, device=errors.device)
    return (errors.reshape(-1, 1) <= thresholds).to(errors.dtype).mean()  # (E, steps) -> mean


def evaluate_sequence(
    pred_m: ArrayLike, target_m: ArrayLike, root: int = 0, pck_mm: float = 150.0
) -> dict[str, float | int | list[float]]:
    """All metrics of one sequence, root-centred, in millimetres.

    Both sequences are root-centred (joint ``root`` subtracted per frame) and converted to mm; MPJPE, PCK and
    AUC use the root-centred errors, P-MPJPE and N-MPJPE align each frame, MPJVE uses first differences.

    Args:
        pred_m: ``(T, J, 3)`` metres.
        target_m: ``(T, J, 3)`` metres.
        root: index of the root joint.
        pck_mm: PCK threshold and AUC range, mm.

    Returns:
        ``mpjpe_mm, p_mpjpe_mm, n_mpjpe_mm, mpjve_mm`` (NaN when ``T < 2``), ``pck3d`` and ``auc`` (fractions),
        ``frames`` (int ``T``) and ``per_joint_mpjpe_mm`` (list of ``J`` floats).
    """
    pred = _as_tensor(pred_m, "pred_m").double()
    target = _as_tensor(target_m, "target_m").double()
    if pred.ndim != 3 or pred.shape != target.shape or pred.shape[-1] != 3 or pred.shape[0] < 1:
        raise InputError(
            f"expected pred and target of equal shape (T, J, 3), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    T, J, _ = pred.shape
    if not -J <= root < J:
        raise InputError(f"root: joint index {root} out of range for {J} joints")
    if not (torch.isfinite(pred).all() and torch.isfinite(target).all()):
        raise InputError("pred and target must be finite (drop or fill missing frames first)")
    with torch.no_grad():
        pred = (pred - pred[:, [root]]) * 1000.0  # (T, J, 3) mm
        target = (target - target[:, [root]]) * 1000.0
        err = mpjpe(pred, target)  # (T, J)
        return {
            "mpjpe_mm": float(err.mean()),
            "p_mpjpe_mm": float(p_mpjpe(pred, target).mean()),
            "n_mpjpe_mm": float(n_mpjpe(pred, target).mean()),
            "mpjve_mm": float(mpjve(pred, target).mean()) if T >= 2 else math.nan,
            "pck3d": float(pck3d(err, pck_mm)),
            "auc": float(auc(err, pck_mm)),
            "frames": T,
            "per_joint_mpjpe_mm": err.mean(0).tolist(),
        }


_FRAME_WEIGHTED = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "pck3d", "auc")


def evaluate_sequences(
    pairs: Sequence[tuple[ArrayLike, ArrayLike]], root: int = 0, pck_mm: float = 150.0
) -> dict[str, object]:
    """Frame-weighted metrics over several sequences, plus each sequence's own.

    Equal to pooling all frames: every key of :func:`evaluate_sequence` is the frame-weighted mean (MPJVE
    weighted by ``T - 1``, skipping sequences of one frame), ``frames`` is the total.

    Args:
        pairs: ``(pred_m, target_m)`` per sequence, each ``(T_i, J, 3)`` metres, same ``J``.
        root: root joint index.
        pck_mm: PCK threshold and AUC range, mm.

    Returns:
        The overall metrics and ``per_sequence``: the list of per-sequence dicts, in order.
    """
    per = [evaluate_sequence(p, t, root=root, pck_mm=pck_mm) for p, t in pairs]
    if not per:
        raise InputError("evaluate_sequences: no sequences given")
    if len({len(s["per_joint_mpjpe_mm"]) for s in per}) != 1:
        raise InputError("evaluate_sequences: sequences have different joint counts")
    frames = sum(s["frames"] for s in per)
    out: dict[str, object] = {k: sum(s[k] * s["frames"] for s in per) / frames for k in _FRAME_WEIGHTED}
    vel_frames = sum(s["frames"] - 1 for s in per)
    out["mpjve_mm"] = (
        sum(s["mpjve_mm"] * (s["frames"] - 1) for s in per if s["frames"] > 1) / vel_frames if vel_frames else math.nan
    )
    out["frames"] = frames
    per_joint = np.array([s["per_joint_mpjpe_mm"] for s in per])  # (S, J)
    weights = np.array([s["frames"] for s in per], dtype=np.float64)
    out["per_joint_mpjpe_mm"] = (weights @ per_joint / frames).tolist()
    out["per_sequence"] = per
    return out
