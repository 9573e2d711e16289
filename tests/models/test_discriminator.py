"""The spatio-temporal pose discriminator: features, shapes, and what each branch can see."""

import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.models.discriminator import (DiscriminatorConfig, PoseDiscriminator, bone_vectors, kcs, motion_features,
                                         pose_features)
from lift3d.skeletons import H36M17


def _pose(T=10, seed=0):
    return torch.tensor(np.random.default_rng(seed).normal(0, 0.3, (2, T, 17, 3)), dtype=torch.float32)


def test_kcs_holds_bone_lengths_and_angles():
    b = bone_vectors(_pose())  # (2, T, 16, 3)
    assert b.shape[-2] == len(H36M17.bones)
    k = kcs(b)  # (2, T, 136)
    nb = b.shape[-2]
    assert k.shape[-1] == nb * (nb + 1) // 2
    i, j = torch.triu_indices(nb, nb)
    diag = k[..., i == j]
    torch.testing.assert_close(diag, (b * b).sum(-1))  # squared lengths on the diagonal
    first_off = k[..., (i == 0) & (j == 1)][..., 0]
    torch.testing.assert_close(first_off, (b[..., 0, :] * b[..., 1, :]).sum(-1))


def test_pose_features_ignore_translation_and_motion_features_ignore_a_static_offset():
    p = _pose()
    shifted = p + torch.tensor([1.0, -2.0, 3.0])
    torch.testing.assert_close(pose_features(p), pose_features(shifted))
    torch.testing.assert_close(motion_features(p)[..., 17 * 3:], motion_features(shifted)[..., 17 * 3:])
    still = p[:, :1].expand(-1, 6, -1, -1)
    assert motion_features(still).abs().max() == 0  # nothing moves, no motion


def test_per_frame_logits_for_any_length():
    d = PoseDiscriminator(DiscriminatorConfig(channels=32)).eval()
    for T in (1, 2, 5, 40):
        assert d(_pose(T)).shape == (2, T)
    with pytest.raises(InputError, match="expects"):
        d(torch.zeros(2, 5, 16, 3))


def test_motion_branch_sees_a_bounded_neighbourhood():
    d = PoseDiscriminator(DiscriminatorConfig(channels=16, motion_layers=2)).eval()
    p = _pose(40)
    q = p.clone()
    q[:, 30] += 0.5  # change frame 30 only
    changed = (d(p) - d(q)).abs()[0] > 1e-6
    reach = d.frames_seen() // 2 + 1
    assert changed[30] and not changed[: 30 - reach].any() and not changed[30 + reach + 1 :].any()
