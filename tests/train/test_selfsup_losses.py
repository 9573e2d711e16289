"""Self-supervised losses: zero at the optimum, growing when perturbed, exact root solve, gradients."""

from __future__ import annotations

import torch

from lift3d.train import selfsup_losses as L


def _pose(B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = 0.3 * torch.randn(B, 17, 3, generator=g, dtype=torch.float64)
    return p - p[:, :1]


K = torch.tensor([[1000.0, 0.0, 640.0], [0.0, 1100.0, 360.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def test_label_losses():
    p, w = _pose(), torch.ones(3, 17, dtype=torch.float64)
    assert L.label_loss(p, p, w) == 0 and L.label_loss(p + 0.01, p, w) > 0
    assert L.scale_invariant_label_loss(1.7 * p, p, w) < 1e-12 and L.label_loss(1.7 * p, p, w) > 0.05
    assert L.scale_invariant_label_loss(p + 0.02 * _pose(seed=1), p, w) > 0
    w0 = w.clone()
    w0[:, 5] = 0
    q = p.clone()
    q[:, 5] += 1.0
    assert L.label_loss(q, p, w0) == 0  # unlabelled joints do not count


def test_projection_round_trip_and_reprojection_loss():
    p = _pose() + torch.tensor([0.2, -0.1, 4.0], dtype=torch.float64)
    px = L.project_pinhole(p, K)
    xn = L.normalized_coords(px, K)
    torch.testing.assert_close(xn, p[..., :2] / p[..., 2:])
    c, size = torch.ones(3, 17, dtype=torch.float64), torch.full((3,), 300.0, dtype=torch.float64)
    assert L.reprojection_loss(p, px, c, K, size) < 1e-12
    assert abs(float(L.reprojection_loss(p, px + 3.0, c, K, size)) - 3 * 2**0.5 / 300) < 1e-9


def test_solve_root_recovers_the_translation():
    p = _pose()
    root = torch.tensor([[0.3, -0.2, 4.0], [-1.0, 0.5, 7.0], [0.0, 0.0, 2.5]], dtype=torch.float64)
    px = L.project_pinhole(p + root[:, None], K)
    c = torch.ones(3, 17, dtype=torch.float64)
    torch.testing.assert_close(L.solve_root(p, px, c, K), root, atol=1e-3, rtol=0)
    p.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda q: L.solve_root(q, px, c, K), (p,))


def test_consistency_and_bone_constancy():
    p = _pose()
    w = torch.ones(3, dtype=torch.float64)
    assert L.consistency_loss(p, p, w) == 0 and L.consistency_loss(p, p + 0.01, w) > 0
    seq = p[:1].expand(5, 17, 3)[None]  # (1, 5, J, 3) the same pose 5 times
    assert L.bone_constancy_loss(seq) < 1e-12
    grow = seq * torch.linspace(1.0, 1.2, 5, dtype=torch.float64)[None, :, None, None]
    assert L.bone_constancy_loss(grow) > 0.005
