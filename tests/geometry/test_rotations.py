from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
    rot6d_to_matrix,
    rotation_about_axis,
    skew_symmetric,
)

D = torch.float64


def random_axis_angles(n: int, seed: int = 0) -> torch.Tensor:
    """Rotation vectors with angles spread over (0, pi), plus tiny and near-half-turn ones."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = rng.uniform(0, np.pi, n)
    angles[:4] = [1e-9, 1e-5, np.pi - 1e-7, np.pi - 1e-3]
    return torch.from_numpy(axes * angles[:, None])


def test_axis_angle_to_matrix_matches_cv2_rodrigues():
    aa = random_axis_angles(64)
    R = axis_angle_to_matrix(aa)
    expected = np.stack([cv2.Rodrigues(v.numpy())[0] for v in aa])
    np.testing.assert_allclose(R.numpy(), expected, atol=1e-12)


def test_matrix_to_axis_angle_matches_cv2_rodrigues_incl_near_zero_and_pi():
    aa = random_axis_angles(64, seed=1)
    R = torch.from_numpy(np.stack([cv2.Rodrigues(v.numpy())[0] for v in aa]))
    back = matrix_to_axis_angle(R)
    np.testing.assert_allclose(back.numpy(), aa.numpy(), atol=1e-7)  # 1e-7: cv2 itself loses digits near pi
    np.testing.assert_allclose(back[:2].numpy(), aa[:2].numpy(), rtol=1e-6, atol=1e-15)  # tiny angles


def test_half_turn_round_trips_through_matrix():
    # Exactly pi: the axis sign is ambiguous, so compare matrices.
    aa = torch.tensor([[math.pi, 0, 0], [0, 0, -math.pi], [math.pi / math.sqrt(2), math.pi / math.sqrt(2), 0]], dtype=D)
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    np.testing.assert_allclose(back.norm(dim=-1).numpy(), math.pi, atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(back).numpy(), axis_angle_to_matrix(aa).numpy(), atol=1e-12)


def test_quaternion_known_answer_and_scipy():
    half = math.sqrt(0.5)
    q = torch.tensor([half, 0.0, 0.0, half], dtype=D)  # 90 degrees about z, (w, x, y, z)
    expected = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=D)
    torch.testing.assert_close(quaternion_to_matrix(q), expected)
    aa = random_axis_angles(32, seed=2)
    scipy_q = Rotation.from_rotvec(aa.numpy()).as_quat()[:, [3, 0, 1, 2]]  # scalar last -> first
    scipy_q *= np.sign(scipy_q[:, :1])
    np.testing.assert_allclose(axis_angle_to_quaternion(aa).numpy(), scipy_q, atol=1e-12)
    np.testing.assert_allclose(matrix_to_quaternion(axis_angle_to_matrix(aa)).numpy(), scipy_q, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_matrix(torch.from_numpy(scipy_q)).numpy(),
                               Rotation.from_rotvec(aa.numpy()).as_matrix(), atol=1e-12)


def test_quaternion_round_trips_and_normalisation():
    aa = random_axis_angles(32, seed=3)
    q = axis_angle_to_quaternion(aa)
    assert (q[:, 0] >= 0).all()
    torch.testing.assert_close(quaternion_to_axis_angle(q), aa, atol=1e-9, rtol=0)
    # A scaled, sign-flipped quaternion is the same rotation.
    torch.testing.assert_close(quaternion_to_matrix(-3.0 * q), quaternion_to_matrix(q))
    torch.testing.assert_close(quaternion_to_axis_angle(-3.0 * q), aa, atol=1e-9, rtol=0)


def test_rot6d_known_answer_and_gram_schmidt():
    eye = torch.eye(3, dtype=D)
    torch.testing.assert_close(matrix_to_rot6d(eye), torch.tensor([1.0, 0, 0, 0, 1, 0], dtype=D))
    R = axis_angle_to_matrix(random_axis_angles(16, seed=4))
    torch.testing.assert_close(rot6d_to_matrix(matrix_to_rot6d(R)), R)
    # A scaled, skewed 6D input still maps to a rotation whose first column follows a1.
    d6 = torch.tensor([2.0, 0, 0, 1.0, 3.0, 0], dtype=D)
    torch.testing.assert_close(rot6d_to_matrix(d6), eye)


def test_euler_matches_scipy_intrinsic_and_axis_products():
    rng = np.random.default_rng(5)
    angles = torch.from_numpy(rng.uniform(-np.pi, np.pi, size=(20, 3)))
    for order in ("ZYX", "ZXY", "XYZ", "YZX", "ZXZ"):
        expected = Rotation.from_euler(order, angles.numpy()).as_matrix()  # upper case = intrinsic
        np.testing.assert_allclose(euler_to_matrix(angles, order).numpy(), expected, atol=1e-12)
    a = angles[0]
    product = rotation_about_axis("Z", a[0]) @ rotation_about_axis("X", a[1]) @ rotation_about_axis("Y", a[2])
    torch.testing.assert_close(euler_to_matrix(a, "ZXY"), product)


def test_rotation_about_axis_known_answers():
    quarter = torch.tensor(math.pi / 2, dtype=D)
    e = torch.eye(3, dtype=D)
    torch.testing.assert_close(rotation_about_axis("Z", quarter) @ e[0], e[1])
    torch.testing.assert_close(rotation_about_axis("x", quarter) @ e[1], e[2])
    torch.testing.assert_close(rotation_about_axis("Y", quarter) @ e[2], e[0])


def test_skew_symmetric_is_cross_product():
    v, u = torch.randn(2, 5, 3, dtype=D, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close((skew_symmetric(v) @ u[..., None])[..., 0], torch.linalg.cross(v, u, dim=-1))


def test_batch_shapes_and_float32():
    aa = random_axis_angles(24, seed=6).reshape(2, 3, 4, 3)
    R = axis_angle_to_matrix(aa)
    assert R.shape == (2, 3, 4, 3, 3)
    assert matrix_to_axis_angle(R).shape == (2, 3, 4, 3)
    assert matrix_to_quaternion(R).shape == (2, 3, 4, 4)
    assert quaternion_to_matrix(matrix_to_quaternion(R)).shape == R.shape
    assert rot6d_to_matrix(matrix_to_rot6d(R)).shape == R.shape
    assert euler_to_matrix(aa, "ZYX").shape == R.shape
    assert rotation_about_axis("Y", aa[..., 0]).shape == R.shape
    R32 = axis_angle_to_matrix(aa.float())
    assert R32.dtype == torch.float32
    torch.testing.assert_close(R32.double(), R, atol=1e-6, rtol=0)
    back32 = matrix_to_axis_angle(R32).double()
    # Within float32 resolution of pi the axis sign is ambiguous: compare those as matrices.
    far = aa.norm(dim=-1) < math.pi - 1e-3
    torch.testing.assert_close(back32[far], aa[far], atol=1e-4, rtol=0)
    torch.testing.assert_close(axis_angle_to_matrix(back32), R, atol=1e-5, rtol=0)
    # Small angles keep full relative precision in float32 too.
    tiny = torch.tensor([[1e-4, -2e-4, 3e-4]])
    torch.testing.assert_close(matrix_to_axis_angle(axis_angle_to_matrix(tiny)), tiny, rtol=1e-3, atol=0)


def test_bad_input_raises():
    with pytest.raises(InputError, match="order"):
        euler_to_matrix(torch.zeros(3), "zyx")  # lower case would be extrinsic in SciPy: refused
    with pytest.raises(InputError, match="order"):
        euler_to_matrix(torch.zeros(3), "ZZX")
    with pytest.raises(InputError, match=r"\(\.\.\., 3\)"):
        axis_angle_to_matrix(torch.zeros(4))
    with pytest.raises(InputError, match="axis"):
        rotation_about_axis("W", torch.zeros(()))


def test_gradcheck():
    aa = random_axis_angles(6, seed=7)[4:].clone().requires_grad_()
    small = torch.tensor([[0.0, 0.0, 0.0], [1e-6, -2e-6, 0.5e-6]], dtype=D, requires_grad=True)
    q = torch.tensor([[0.9, 0.1, -0.3, 0.2], [0.1, 0.7, 0.5, -0.4]], dtype=D, requires_grad=True)
    R = axis_angle_to_matrix(random_axis_angles(6, seed=8)[4:]).requires_grad_()
    d6 = torch.randn(2, 6, dtype=D, generator=torch.Generator().manual_seed(1), requires_grad=True)
    angles = torch.tensor([0.3, -1.2, 2.0], dtype=D, requires_grad=True)
    assert gradcheck(axis_angle_to_matrix, (aa,))
    assert gradcheck(axis_angle_to_matrix, (small,))  # Taylor branch, including exactly 0
    assert gradcheck(axis_angle_to_quaternion, (small,))
    assert gradcheck(axis_angle_to_quaternion, (aa,))
    assert gradcheck(quaternion_to_matrix, (q,))
    assert gradcheck(quaternion_to_axis_angle, (q,))
    assert gradcheck(matrix_to_quaternion, (R,))
    assert gradcheck(matrix_to_axis_angle, (R,))
    assert gradcheck(rot6d_to_matrix, (d6,))
    assert gradcheck(matrix_to_rot6d, (R,))
    assert gradcheck(lambda a: euler_to_matrix(a, "ZXY"), (angles,))
    assert gradcheck(lambda a: rotation_about_axis("X", a), (angles,))
    assert gradcheck(skew_symmetric, (d6[:, :3],))
