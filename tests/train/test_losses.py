import torch

from lift3d.skeletons import H36M17
from lift3d.train.losses import bone_lengths, bone_symmetry_loss, lifter_losses, position_loss, velocity_loss, weighted_total


def _symmetric_pose(B=3, T=4):
    torch.manual_seed(0)
    p = torch.randn(B, T, 17, 3) * 0.2
    perm = list(H36M17.flip_permutation)
    mirrored = p[..., perm, :].clone()
    mirrored[..., 0] = -mirrored[..., 0]
    return (p + mirrored) / 2  # exactly left/right symmetric


def test_zero_at_the_optimum_and_growing():
    y = _symmetric_pose()
    terms = lifter_losses(y, y)
    assert all(float(v) < 1e-7 for v in terms.values()), terms
    for scale in (0.01, 0.05):
        noisy = y + scale * torch.randn_like(y)
        t = lifter_losses(noisy, y)
        assert t["position"] > 0 and t["velocity"] > 0 and t["bone_symmetry"] > 0
    assert position_loss(y + 0.05, y) < position_loss(y + 0.1, y)


def test_known_answers():
    y = torch.zeros(1, 2, 17, 3)
    p = y.clone()
    p[..., 0] += 0.03  # a constant 3 cm offset: position 0.03, velocity 0
    assert abs(float(position_loss(p, y)) - 0.03) < 1e-7
    assert float(velocity_loss(p, y)) < 1e-7
    q = y.clone()
    q[:, 1, :, 2] += 0.02  # a jump between frames: velocity error 0.02
    assert abs(float(velocity_loss(q, y)) - 0.02) < 1e-7


def test_bone_symmetry():
    y = _symmetric_pose()
    assert float(bone_symmetry_loss(y)) < 1e-7
    z = y.clone()
    z[..., H36M17.index("l_wrist"), :] *= 1.5
    assert float(bone_symmetry_loss(z)) > 1e-3
    assert bone_lengths(y).shape == (3, 4, 16)


def test_weighted_total_uses_named_weights():
    terms = {"position": torch.tensor(2.0), "velocity": torch.tensor(3.0), "bone_symmetry": torch.tensor(5.0)}
    assert float(weighted_total(terms, {"position": 1.0, "velocity": 0.5, "bone_symmetry": 0.0})) == 3.5
