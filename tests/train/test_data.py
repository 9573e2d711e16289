import numpy as np
import pytest
import torch

from lift3d.codec import Pose2DCodec
from lift3d.data.build_mocap import list_takes, load_take
from lift3d.errors import ConfigError
from lift3d.skeletons import H36M17
from lift3d.train.data import DataConfig, WindowSet, augment_flip, jitter_proportions, render_take
from lift3d.train.losses import bone_lengths
from lift3d.mocap.clip import ClipInfo, MocapClip
from pathlib import Path


def _seqs():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(T, 17, 3)).astype(np.float32), rng.normal(size=(T, 17, 3)).astype(np.float32)) for T in (5, 9)]


def test_windows_are_edge_padded_sequences():
    pairs = _seqs()
    ws = WindowSet(pairs, receptive_field=7, causal=False)
    assert len(ws) == 14
    x, y = ws.windows(torch.tensor([0, 4, 5, 13]))
    assert x.shape == (4, 7, 17, 3) and y.shape == (4, 17, 3)
    f0 = torch.from_numpy(pairs[0][0])
    assert torch.equal(x[0, 3], f0[0]) and torch.equal(x[0, 0], f0[0])  # centre = frame 0, left edge replicated
    assert torch.equal(x[1, 3], f0[4]) and torch.equal(x[1, 6], f0[4])  # right edge replicated
    assert torch.equal(x[2, 3], torch.from_numpy(pairs[1][0][0]))
    assert torch.equal(y[3], torch.from_numpy(pairs[1][1][8]))


def test_causal_windows_end_at_the_target():
    pairs = _seqs()
    ws = WindowSet(pairs, receptive_field=5, causal=True)
    x, _ = ws.windows(torch.tensor([3]))
    f0 = torch.from_numpy(pairs[0][0])
    assert torch.equal(x[0, -1], f0[3]) and torch.equal(x[0, 0], f0[0])


def test_pairs_stay_inside_a_sequence():
    ws = WindowSet(_seqs(), receptive_field=3, causal=False)
    idx = ws.pair_indices(np.random.default_rng(0))
    assert len(idx) > 0
    assert (ws.seq_of_frame[idx] == ws.seq_of_frame[idx + 1]).all()


def test_flip_is_applied_per_sample():
    x = torch.randn(3, 2, 5, 17, 3)
    y = torch.randn(3, 2, 17, 3)
    perm = list(H36M17.flip_permutation)
    fx, fy = augment_flip(x, y, torch.tensor([True, False, True]))
    assert torch.equal(fx[1], x[1]) and torch.equal(fy[1], y[1])
    assert torch.equal(fx[0][..., 0], -x[0][..., perm, 0])
    assert torch.equal(fy[2][..., 1], y[2][..., perm, 1])


def test_render_take_targets_are_camera_frame_root_relative():
    T = 50
    walk = np.zeros((T, 17, 3))
    rng = np.random.default_rng(1)
    walk += rng.uniform([-0.2, -0.2, 0.0], [0.2, 0.2, 1.7], size=(17, 3))
    walk[..., 0] += np.linspace(0, 2, T)[:, None]
    clip = MocapClip(ClipInfo(Path("x.bvh"), "cmu_mocap", "cmu:01", "walk", "train"), 30.0, walk)
    out = render_take(clip, DataConfig(), Pose2DCodec(), np.random.default_rng(0), views=3, noise_level=0.0, mask=0.0)
    assert len(out) == 3
    for feats, target in out:
        assert feats.shape == (T, 17, 3) and target.shape == (T, 17, 3)
        np.testing.assert_allclose(target[:, 0], 0, atol=1e-6)
        # Camera-frame bone lengths equal the world's (a rigid change of frame).
        wl = np.linalg.norm(walk[:, 3] - walk[:, 2], axis=-1)
        cl = np.linalg.norm(target[:, 3] - target[:, 2], axis=-1)
        np.testing.assert_allclose(wl, cl, atol=1e-5)


def test_clean_prob_gives_exact_2d_with_full_confidence():
    T = 30
    rng = np.random.default_rng(2)
    pose = rng.uniform([-0.2, -0.2, 0.0], [0.2, 0.2, 1.7], size=(17, 3))[None].repeat(T, 0)
    clip = MocapClip(ClipInfo(Path("x.bvh"), "cmu_mocap", "cmu:01", "stand", "train"), 30.0, pose)
    cfg = DataConfig(clean_prob=1.0, mask_prob=0.0)
    (feats, _), = render_take(clip, cfg, Pose2DCodec(), np.random.default_rng(0), views=1)
    assert (feats[..., 2] == 1.0).all()
    cfg = DataConfig(clean_prob=0.0, mask_prob=0.0, noise_level=(0.3, 0.3))
    (feats, _), = render_take(clip, cfg, Pose2DCodec(), np.random.default_rng(0), views=1)
    assert (feats[..., 2] < 1.0).mean() > 0.9


def _lengths(pose: np.ndarray) -> np.ndarray:
    return bone_lengths(torch.from_numpy(pose)).numpy()


def test_jitter_proportions_scales_bones_and_keeps_directions(shared_data):
    info = next(i for i in list_takes(["cmu_mocap"], shared_data) if i.split == "train")
    pose = load_take(info, 30.0).pose3d_world_m[:200]
    out = jitter_proportions(pose, 0.1, np.random.default_rng(3))
    ratio = _lengths(out) / _lengths(pose)  # (T, bones)
    np.testing.assert_allclose(ratio, ratio[:1].repeat(len(ratio), 0), rtol=1e-9)  # one body for the take
    assert (ratio > 0.9 - 1e-9).all() and (ratio < 1.1 + 1e-9).all() and np.ptp(ratio[0]) > 0.02
    for a, b in H36M17.symmetric_bones:
        np.testing.assert_allclose(ratio[0, a], ratio[0, b])  # left and right alike
    for p, c in H36M17.bones:
        d0, d1 = pose[:, c] - pose[:, p], out[:, c] - out[:, p]
        cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    np.testing.assert_array_equal(out[:, H36M17.root], pose[:, H36M17.root])
    np.testing.assert_allclose(jitter_proportions(pose, 0.0, np.random.default_rng(3)), pose, atol=1e-12)


def test_render_take_bone_jitter_gives_targets_other_proportions(shared_data):
    info = next(i for i in list_takes(["cmu_mocap"], shared_data) if i.split == "train")
    clip = load_take(info, 30.0)
    clip = MocapClip(clip.info, clip.fps, clip.pose3d_world_m[:120])
    plain = render_take(clip, DataConfig(), Pose2DCodec(), np.random.default_rng(0), views=2, noise_level=0.0, mask=0.0)
    jit = render_take(clip, DataConfig(), Pose2DCodec(), np.random.default_rng(0), views=2, noise_level=0.0, mask=0.0,
                      bone_jitter=0.2)
    world = _lengths(clip.pose3d_world_m)
    np.testing.assert_allclose(_lengths(plain[0][1]), world, rtol=1e-4)
    ratio = [_lengths(target) / world for _, target in jit]
    np.testing.assert_allclose(ratio[0], ratio[1], rtol=1e-4)  # both views see the same body
    assert np.abs(ratio[0] - 1).max() > 0.02
    with pytest.raises(ConfigError, match="bone_jitter"):
        DataConfig(bone_jitter=-0.1)
