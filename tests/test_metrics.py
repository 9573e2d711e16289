from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from lift3d.errors import InputError
from lift3d.geometry import apply_similarity, axis_angle_to_matrix
from lift3d.metrics import auc, evaluate_sequence, evaluate_sequences, mpjpe, mpjve, n_mpjpe, p_mpjpe, pck3d

D = torch.float64


def poses(T: int = 8, J: int = 17, seed: int = 0) -> torch.Tensor:
    """``(T, J, 3)`` random body-sized poses in metres."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(T, J, 3, dtype=D, generator=g) * torch.tensor([0.6, 0.4, 1.8], dtype=D)


def test_mpjpe_of_shifted_copy_is_the_shift():
    target = poses()
    shift = torch.tensor([0.03, -0.04, 0.0], dtype=D)  # |shift| = 0.05
    err = mpjpe(target + shift, target)
    assert err.shape == (8, 17)
    torch.testing.assert_close(err, torch.full((8, 17), 0.05, dtype=D))
    w = torch.zeros(17, dtype=D)
    w[:5] = 1
    assert mpjpe(target + shift, target, w).sum() / (8 * w.sum()) == pytest.approx(0.05)
    assert (mpjpe(target + shift, target, w)[:, 5:] == 0).all()


def test_p_mpjpe_is_zero_for_a_similarity_copy_per_frame():
    target = poses()
    g = torch.Generator().manual_seed(1)
    R = axis_angle_to_matrix(torch.randn(8, 3, dtype=D, generator=g))  # a different transform per frame
    s = torch.rand(8, dtype=D, generator=g) + 0.5
    t = torch.randn(8, 3, dtype=D, generator=g)
    pred = apply_similarity(target, s, R, t)
    assert p_mpjpe(pred, target).max() < 1e-12
    assert mpjpe(pred, target).mean() > 0.1
    noisy = target + 0.01 * torch.randn(target.shape, dtype=D, generator=g)
    assert 0 < p_mpjpe(noisy, target).mean() <= mpjpe(noisy, target).mean()


def test_n_mpjpe_scale_invariance():
    target = poses() - poses()[:, :1]  # root-centred
    g = torch.Generator().manual_seed(2)
    pred = target + 0.02 * torch.randn(target.shape, dtype=D, generator=g)
    assert n_mpjpe(2.5 * target, target).max() < 1e-12
    torch.testing.assert_close(n_mpjpe(3.0 * pred, target), n_mpjpe(pred, target))
    assert n_mpjpe(pred, target).mean() <= mpjpe(pred, target).mean() + 1e-12
    assert mpjpe(2.5 * target, target).mean() > 0.1
    # Scale fitted per frame.
    per_frame = torch.linspace(0.5, 2.0, 8, dtype=D)[:, None, None]
    assert n_mpjpe(per_frame * target, target).max() < 1e-12


def test_mpjve_constant_offset_is_zero_and_drift_is_known():
    target = poses(T=10)
    assert mpjve(target + torch.tensor([1.0, 2.0, 3.0], dtype=D), target).abs().max() < 1e-12
    drift = torch.arange(10, dtype=D)[:, None, None] * torch.tensor([0.0, 0.003, 0.004], dtype=D)
    err = mpjve(target + drift, target)
    assert err.shape == (9, 17)
    torch.testing.assert_close(err, torch.full((9, 17), 0.005, dtype=D))
    assert mpjpe(target + drift, target).max() > 0.04
    with pytest.raises(InputError, match="T >= 2"):
        mpjve(target[:1], target[:1])


def test_pck_and_auc_known_answers():
    errors = torch.tensor([10.0, 100.0, 149.0, 151.0, 200.0], dtype=D)
    assert pck3d(errors, 150.0).item() == pytest.approx(3 / 5)
    assert pck3d(errors, 150.0).item() == pck3d(errors.numpy(), 150.0).item()  # numpy accepted
    assert auc(torch.zeros(10, dtype=D), 150.0).item() == pytest.approx(1.0)
    assert auc(torch.full((4,), 1000.0, dtype=D), 150.0).item() == 0.0
    # Thresholds 0, 5, ..., 150: an error of 75 passes the 16 thresholds from 75 up.
    assert auc(torch.full((3, 2), 75.0, dtype=D), 150.0).item() == pytest.approx(16 / 31)
    assert auc(errors, 150.0, steps=2).item() == pytest.approx((0 + 3 / 5) / 2)


def test_evaluate_sequence_known_answers_and_types():
    target = poses(T=6, J=5)
    pred = target + torch.tensor([0.3, -0.2, 0.1], dtype=D)  # a global shift disappears after root-centring
    pred[:, 3] += torch.tensor([0.0, 0.0, 0.1], dtype=D)  # joint 3 off by 100 mm
    out = evaluate_sequence(pred.numpy(), target.numpy(), root=0, pck_mm=50.0)
    assert set(out) == {"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "pck3d", "auc", "frames",
                        "per_joint_mpjpe_mm"}
    assert out["mpjpe_mm"] == pytest.approx(100.0 / 5)
    assert out["per_joint_mpjpe_mm"] == pytest.approx([0.0, 0.0, 0.0, 100.0, 0.0])
    assert out["pck3d"] == pytest.approx(4 / 5)
    assert out["mpjve_mm"] == pytest.approx(0.0, abs=1e-9)
    assert out["frames"] == 6 and isinstance(out["frames"], int)
    assert all(isinstance(out[k], float) for k in out if k not in ("frames", "per_joint_mpjpe_mm"))
    assert out["p_mpjpe_mm"] > 1.0  # one displaced joint cannot be aligned away
    # Root-centring uses the root joint: moving only the root moves every other joint relative to it.
    moved_root = target.clone()
    moved_root[:, 0] += torch.tensor([0.0, 0.01, 0.0], dtype=D)
    assert evaluate_sequence(moved_root, target)["mpjpe_mm"] == pytest.approx(10.0 * 4 / 5)
    assert math.isnan(evaluate_sequence(pred[:1], target[:1])["mpjve_mm"])


def test_evaluate_sequences_is_frame_weighted():
    a_t, b_t = poses(T=2, J=4, seed=3), poses(T=6, J=4, seed=4)
    a_p = a_t.clone()
    a_p[:, 1, 0] += 0.04  # 40 mm on one joint: mpjpe 10 mm
    b_p = b_t.clone()
    b_p[:, 2, 2] += 0.08  # 80 mm on one joint: mpjpe 20 mm
    out = evaluate_sequences([(a_p, a_t), (b_p, b_t)])
    assert out["frames"] == 8
    assert out["mpjpe_mm"] == pytest.approx((2 * 10.0 + 6 * 20.0) / 8)
    assert out["per_joint_mpjpe_mm"] == pytest.approx([0.0, 40.0 * 2 / 8, 80.0 * 6 / 8, 0.0])
    assert len(out["per_sequence"]) == 2 and out["per_sequence"][1]["mpjpe_mm"] == pytest.approx(20.0)
    pooled = evaluate_sequence(torch.cat([a_p, b_p]), torch.cat([a_t, b_t]))
    for key in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "pck3d", "auc"):
        assert out[key] == pytest.approx(pooled[key])
    with pytest.raises(InputError):
        evaluate_sequences([])
    with pytest.raises(InputError, match="joint"):
        evaluate_sequences([(a_p, a_t), (poses(T=2, J=5), poses(T=2, J=5))])


def test_batch_shapes_and_bad_input():
    pred, target = poses(T=12).reshape(3, 4, 17, 3), poses(T=12, seed=5).reshape(3, 4, 17, 3)
    assert mpjpe(pred, target).shape == (3, 4, 17)
    assert p_mpjpe(pred, target).shape == (3, 4, 17)
    assert n_mpjpe(pred, target).shape == (3, 4, 17)
    assert mpjve(pred, target).shape == (3, 3, 17)
    assert mpjpe(pred.float(), target.float()).dtype == torch.float32
    with pytest.raises(InputError, match="equal shapes"):
        mpjpe(pred, target[..., :16, :])
    with pytest.raises(InputError, match="weights"):
        mpjpe(pred, target, torch.ones(16, dtype=D))
    with pytest.raises(InputError, match="root"):
        evaluate_sequence(pred[0], target[0], root=17)
    bad = pred[0].clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="finite"):
        evaluate_sequence(bad, target[0])


def test_gradcheck():
    g = torch.Generator().manual_seed(6)
    pred = torch.randn(2, 6, 3, dtype=D, generator=g, requires_grad=True)
    target = torch.randn(2, 6, 3, dtype=D, generator=g)
    assert gradcheck(lambda p: mpjpe(p, target), (pred,))
    assert gradcheck(lambda p: p_mpjpe(p, target), (pred,))
    assert gradcheck(lambda p: n_mpjpe(p, target), (pred,))
    assert gradcheck(lambda p: mpjve(p, target), (pred,))
