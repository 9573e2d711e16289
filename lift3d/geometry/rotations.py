"""Rotation representations and conversions between them.

Representations (all batched over leading ``...`` dimensions, float32 or float64, differentiable):

- rotation matrix ``(..., 3, 3)``, acting on column vectors (``x' = R @ x``);
- axis-angle ``(..., 3)``: unit axis times angle in radians (a Rodrigues vector, as ``cv2.Rodrigues``);
- quaternion ``(..., 4)`` in **(w, x, y, z)** order, scalar first (unlike SciPy's ``as_quat``, which is
  scalar last). Conversions to quaternions return the one with ``w >= 0``;
- 6D ``(..., 6)``: the first two columns of the matrix, concatenated (Zhou et al., "On the Continuity of
  Rotation Representations in Neural Networks", CVPR 2019);
- Euler angles ``(..., 3)`` in radians, intrinsic, in a named axis order (the BVH convention).

Small and large angles are handled without ``0/0``: axis-angle near 0 uses Taylor series, and matrices near a
half turn go through the best-conditioned quaternion component (Shepperd's method).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from lift3d.errors import InputError
from lift3d.geometry._checks import check_tensor

# Below this squared angle (rad^2), sin and cos ratios use Taylor series: the dropped terms are O(theta^4)
# ~ 1e-16, below float64 resolution.
_SMALL_ANGLE2 = 1e-8


def skew_symmetric(v: Tensor) -> Tensor:
    """Cross-product matrix ``[v]_x`` with ``[v]_x @ u == cross(v, u)``.

    Args:
        v: ``(..., 3)``.

    Returns:
        ``(..., 3, 3)``.

    Example:
        >>> skew_symmetric(torch.tensor([1.0, 2.0, 3.0]))
        tensor([[ 0., -3.,  2.],
                [ 3.,  0., -1.],
                [-2.,  1.,  0.]])
    """
    check_tensor(v, "v", 3)
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).unflatten(-1, (3, 3))  # (..., 3, 3)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula ``R = I + sin(a)/a K + (1 - cos(a))/a^2 K^2`` with ``K = [axis_angle]_x``.

    Args:
        axis_angle: ``(..., 3)`` rotation vectors, radians.

    Returns:
        ``(..., 3, 3)`` rotation matrices (the same as ``cv2.Rodrigues``).
    """
    check_tensor(axis_angle, "axis_angle", 3)
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < _SMALL_ANGLE2
    # Evaluate the exact branch on a safe angle so that the unused branch cannot put NaN into gradients.
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    # (1 - cos a)/a^2 = 2 sin^2(a/2)/a^2: no cancellation for small a in float32.
    half_sinc = torch.sin(theta / 2) / (theta / 2)
    b = torch.where(small, 0.5 - theta2 / 24, 0.5 * half_sinc * half_sinc)
    K = skew_symmetric(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Rotation matrix to unit quaternion, via the best-conditioned of four candidate formulas.

    Each candidate divides by one of ``4|w|, 4|x|, 4|y|, 4|z|``; the largest is used, so half-turn rotations
    (``w ~ 0``) are as accurate as small ones (Shepperd 1978).

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 4)`` quaternions (w, x, y, z) with ``w >= 0``.
    """
    check_tensor(matrix, "matrix", 3, 3)
    m = matrix.flatten(-2)  # (..., 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    # 4 w^2, 4 x^2, 4 y^2, 4 z^2 (before clamping round-off negatives).
    sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    positive = sq > 0
    q_abs = torch.where(positive, torch.where(positive, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))
    # Row i is 4 * q_i * (w, x, y, z).
    rows = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )  # (..., 4, 4)
    # The floor only guards the candidates that are not selected (the selected |q_i| is >= 1/2).
    candidates = rows / (2 * q_abs[..., None].clamp(min=0.1))
    best = F.one_hot(q_abs.argmax(-1), num_classes=4).to(matrix.dtype)  # (..., 4)
    q = (candidates * best[..., None]).sum(-2)  # (..., 4)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """Quaternion (w, x, y, z) to rotation matrix; the quaternion need not be unit (it is normalised).

    Args:
        quaternion: ``(..., 4)``, scalar first, non-zero.

    Returns:
        ``(..., 3, 3)``.
    """
    check_tensor(quaternion, "quaternion", 4)
    w, x, y, z = quaternion.unbind(-1)
    s = 2.0 / (quaternion * quaternion).sum(-1)
    return torch.stack(
        [
            1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
            s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w),
            s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y),
        ],
        dim=-1,
    ).unflatten(-1, (3, 3))  # (..., 3, 3)


def axis_angle_to_quaternion(axis_angle: Tensor) -> Tensor:
    """Rotation vector to quaternion ``(cos(a/2), sin(a/2) * axis)``.

    Args:
        axis_angle: ``(..., 3)``, radians.

    Returns:
        ``(..., 4)`` unit quaternions (w, x, y, z); ``w >= 0`` for angles up to pi.
    """
    check_tensor(axis_angle, "axis_angle", 3)
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < _SMALL_ANGLE2
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    # sin(a/2)/a, Taylor: 1/2 - a^2/48.
    k = torch.where(small, 0.5 - theta2 / 48, torch.sin(theta / 2) / theta)
    w = torch.where(small, 1 - theta2 / 8, torch.cos(theta / 2))
    return torch.cat([w[..., None], axis_angle * k[..., None]], dim=-1)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """Quaternion (w, x, y, z) to rotation vector with angle in ``[0, pi]``.

    The angle is ``2 atan2(|v|, w)`` on the ``w >= 0`` representative, accurate both near 0 and near pi.

    Args:
        quaternion: ``(..., 4)``, scalar first, non-zero (normalised here).

    Returns:
        ``(..., 3)``, radians.
    """
    check_tensor(quaternion, "quaternion", 4)
    q = quaternion / torch.linalg.vector_norm(quaternion, dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, v = q[..., 0], q[..., 1:]
    n2 = (v * v).sum(-1)
    small = n2 < _SMALL_ANGLE2
    n = torch.where(small, torch.ones_like(n2), n2).sqrt()
    # angle / |v| = 2 atan(|v|/w)/|v|, Taylor: (2/w)(1 - |v|^2/(3 w^2)); w ~ 1 there.
    k = torch.where(small, 2 / w * (1 - n2 / (3 * w * w)), 2 * torch.atan2(n, w) / n)
    return v * k[..., None]


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """Rotation matrix to rotation vector (angle in ``[0, pi]``), stable near 0 and near pi.

    Args:
        matrix: ``(..., 3, 3)``.

    Returns:
        ``(..., 3)``, radians (the same as ``cv2.Rodrigues`` up to the sign ambiguity at exactly pi).
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d: Tensor) -> Tensor:
    """6D representation to rotation matrix by Gram-Schmidt (Zhou et al. CVPR 2019, Sec. 4.2).

    Args:
        rot6d: ``(..., 6)``: two 3-vectors ``(a1, a2)``, the intended first and second columns (any length,
            not parallel).

    Returns:
        ``(..., 3, 3)`` with columns ``b1 = a1/|a1|``, ``b2`` = the part of ``a2`` orthogonal to ``b1``,
        normalised, and ``b3 = b1 x b2``.
    """
    check_tensor(rot6d, "rot6d", 6)
    a1, a2 = rot6d[..., :3], rot6d[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)  # (..., 3, 3), vectors as columns


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    """Rotation matrix to the 6D representation: its first two columns, concatenated.

    Args:
        matrix: ``(..., 3, 3)``.

    Returns:
        ``(..., 6)``: ``(R[:, 0], R[:, 1])``.
    """
    check_tensor(matrix, "matrix", 3, 3)
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def rotation_about_axis(axis: str, angle: Tensor) -> Tensor:
    """Right-handed rotation by ``angle`` about a coordinate axis.

    Args:
        axis: ``"X"``, ``"Y"`` or ``"Z"`` (case-insensitive).
        angle: ``(...)`` radians.

    Returns:
        ``(..., 3, 3)``.

    Example:
        >>> R = rotation_about_axis("Z", torch.tensor(torch.pi / 2, dtype=torch.float64))
        >>> (R @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)).round(decimals=6) + 0.0
        tensor([0., 1., 0.], dtype=torch.float64)
    """
    if not isinstance(angle, Tensor) or not angle.is_floating_point():
        raise InputError(f"angle: expected a floating-point torch.Tensor, got {type(angle).__name__}")
    if not isinstance(axis, str) or axis.upper() not in ("X", "Y", "Z"):
        raise InputError(f"axis: expected 'X', 'Y' or 'Z', got {axis!r}")
    c, s = torch.cos(angle), torch.sin(angle)
    o, i = torch.zeros_like(angle), torch.ones_like(angle)
    entries = {
        "X": [i, o, o, o, c, -s, o, s, c],
        "Y": [c, o, s, o, i, o, -s, o, c],
        "Z": [c, -s, o, s, c, o, o, o, i],
    }[axis.upper()]
    return torch.stack(entries, dim=-1).unflatten(-1, (3, 3))  # (..., 3, 3)


def euler_to_matrix(angles_rad: Tensor, order: str) -> Tensor:
    """Intrinsic Euler angles to rotation matrix: ``R = R_{order[0]}(a0) @ R_{order[1]}(a1) @ R_{order[2]}(a2)``.

    This is the BVH convention: a channel list ``Zrotation Xrotation Yrotation`` is ``order="ZXY"`` with the
    angles in that order. It equals SciPy's ``Rotation.from_euler(order, angles)`` with upper-case (intrinsic)
    axes.

    Args:
        angles_rad: ``(..., 3)``; angle ``k`` is about axis ``order[k]``.
        order: three upper-case letters from ``X, Y, Z`` with no axis repeated consecutively, e.g. ``"ZYX"``,
            ``"ZXY"``, ``"ZXZ"``. Lower case is refused rather than read as extrinsic.

    Returns:
        ``(..., 3, 3)``.
    """
    check_tensor(angles_rad, "angles_rad", 3)
    if (
        not isinstance(order, str)
        or len(order) != 3
        or any(a not in "XYZ" for a in order)
        or order[0] == order[1]
        or order[1] == order[2]
    ):
        raise InputError(
            f"order: expected three upper-case axes from 'XYZ' (intrinsic, no consecutive repeats), got {order!r}"
        )
    a0, a1, a2 = angles_rad.unbind(-1)
    return rotation_about_axis(order[0], a0) @ rotation_about_axis(order[1], a1) @ rotation_about_axis(order[2], a2)
