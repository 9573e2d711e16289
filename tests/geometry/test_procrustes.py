from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import apply_rigid, apply_similarity, axis_angle_to_matrix, rigid_align, similarity_align

D = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_rigid_align_recovers_known_transform(body):
    R_true = axis_angle_to_matrix(torch.tensor([0.3, -1.1, 2.0], dtype=D))
    t_true = torch.tensor([1.0, -2.0, 0.5], dtype=D)
    target = apply_rigid(body, R_true, t_true)
    R, t = rigid_align(body, target)
    torch.testing.assert_close(R, R_true, atol=1e-12, rtol=0)
    torch.testing.assert_close(t, t_true, atol=1e-12, rtol=0)


def test_similarity_align_recovers_known_transform(body):
    R_true = axis_angle_to_matrix(torch.tensor([-0.7, 0.2, 2.9], dtype=D))
    t_true = torch.tensor([0.1, 3.0, -1.0], dtype=D)
    s_true = torch.tensor(0.37, dtype=D)
    target = apply_similarity(body, s_true, R_true, t_true)
    s, R, t = similarity_align(body, target)
    torch.testing.assert_close(s, s_true, atol=1e-12, rtol=0)
    torch.testing.assert_close(R, R_true, atol=1e-12, rtol=0)
    torch.testing.assert_close(apply_similarity(body, s, R, t), target, atol=1e-12, rtol=0)


def test_rigid_align_matches_scipy_kabsch_on_noisy_points(body):
    noisy = apply_rigid(body, axis_angle_to_matrix(torch.tensor([1.0, 0.5, -0.2], dtype=D)), torch.zeros(3, dtype=D))
    noisy = noisy + 0.05 * torch.randn(body.shape, dtype=D, generator=_gen(0))
    R, t = rigid_align(body, noisy)
    src, tgt = body - body.mean(0), noisy - noisy.mean(0)
    expected, _ = Rotation.align_vectors(tgt.numpy(), src.numpy())  # rotates src onto tgt
    np.testing.assert_allclose(R.numpy(), expected.as_matrix(), atol=1e-10)


def test_reflection_is_not_returned(body):
    mirrored = body * torch.tensor([-1.0, 1.0, 1.0], dtype=D)
    R, t = rigid_align(body, mirrored)
    assert torch.linalg.det(R).item() == pytest.approx(1.0, abs=1e-12)
    residual = (apply_rigid(body, R, t) - mirrored).norm(dim=-1).mean()
    assert residual > 0.01  # a reflection cannot be matched by a rotation


def test_zero_weight_points_are_ignored(body):
    R_true = axis_angle_to_matrix(torch.tensor([0.1, 0.2, 0.3], dtype=D))
    target = apply_similarity(body, torch.tensor(2.0, dtype=D), R_true, torch.ones(3, dtype=D))
    target[3] += 10.0  # gross outlier
    w = torch.ones(body.shape[0], dtype=D)
    w[3] = 0
    s, R, _ = similarity_align(body, target, w)
    torch.testing.assert_close(R, R_true, atol=1e-12, rtol=0)
    assert s.item() == pytest.approx(2.0, abs=1e-12)
    s_unweighted, _, _ = similarity_align(body, target)
    assert abs(s_unweighted.item() - 2.0) > 1e-3


def test_batch_and_broadcast_shapes():
    src = torch.randn(4, 5, 10, 3, dtype=D, generator=_gen(1))
    tgt = torch.randn(4, 5, 10, 3, dtype=D, generator=_gen(2))
    w = torch.rand(10, dtype=D, generator=_gen(3))  # shared weights broadcast over the batch
    R, t = rigid_align(src, tgt, w)
    assert R.shape == (4, 5, 3, 3) and t.shape == (4, 5, 3)
    s, R2, t2 = similarity_align(src, tgt, w)
    assert s.shape == (4, 5) and R2.shape == (4, 5, 3, 3) and t2.shape == (4, 5, 3)
    assert apply_similarity(src, s, R2, t2).shape == src.shape
    # Batched equals one-by-one.
    R_one, t_one = rigid_align(src[2, 3], tgt[2, 3], w)
    torch.testing.assert_close(R[2, 3], R_one)
    torch.testing.assert_close(t[2, 3], t_one)
    s32, _, _ = similarity_align(src.float(), tgt.float())
    assert s32.dtype == torch.float32


def test_bad_shapes_raise():
    with pytest.raises(InputError):
        rigid_align(torch.zeros(5, 3), torch.zeros(6, 3))
    with pytest.raises(InputError):
        similarity_align(torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(InputError):
        rigid_align(torch.zeros(5, 3), torch.zeros(5, 3), torch.ones(4))


def test_gradcheck():
    src = torch.randn(6, 3, dtype=D, generator=_gen(4), requires_grad=True)
    tgt = torch.randn(6, 3, dtype=D, generator=_gen(5), requires_grad=True)
    w = torch.rand(6, dtype=D, generator=_gen(6)).add(0.5).requires_grad_()
    assert gradcheck(rigid_align, (src, tgt, w))
    assert gradcheck(similarity_align, (src, tgt, w))
    R = axis_angle_to_matrix(torch.tensor([0.2, 0.4, -0.1], dtype=D)).requires_grad_()
    t = torch.randn(3, dtype=D, generator=_gen(7), requires_grad=True)
    s = torch.tensor(1.5, dtype=D, requires_grad=True)
    assert gradcheck(apply_rigid, (src, R, t))
    assert gradcheck(apply_similarity, (src, s, R, t))
