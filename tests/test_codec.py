import numpy as np
import pytest
import torch

from lift3d.codec import Pose2DCodec, flip_features, flip_pose3d, root_relative
from lift3d.data.virtual_cameras import look_at, project
from lift3d.errors import InputError
from lift3d.skeletons import H36M17


def _pose2d(T=40, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform([300, 100], [500, 700], size=(17, 2))
    return base[None] + rng.normal(0, 2, size=(T, 17, 2)), np.ones((T, 17))


def test_encode_is_invariant_to_image_position_and_size():
    kp, conf = _pose2d()
    codec = Pose2DCodec()
    a = codec.encode(kp, conf)
    b = codec.encode(kp * 2.5 + np.array([100.0, -40.0]), conf)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == (40, 17, 3) and a.dtype == np.float32
    np.testing.assert_allclose(a[:, 0, :2], 0, atol=1e-6)  # pelvis at the origin
    span = (a[..., :2].max(axis=1) - a[..., :2].min(axis=1)).max(axis=-1)  # (T,)
    assert np.all(np.abs(span - 2.0) < 0.05), span  # half the bbox's larger side is the unit


def test_masked_joints_are_zero_and_do_not_rescale():
    kp, conf = _pose2d()
    codec = Pose2DCodec()
    ref = codec.encode(kp, conf)
    conf2 = conf.copy()
    conf2[10:14, [3, 6, 13]] = 0.0  # a few joints lost for a few frames
    out = codec.encode(kp, conf2)
    assert (out[10:14][:, [3, 6, 13]] == 0).all()
    keep = conf2 > 0
    np.testing.assert_allclose(out[keep][:, :2], ref[keep][:, :2], atol=0.05)


def test_missing_pelvis_and_empty_frames():
    kp, conf = _pose2d(T=10)
    conf[3, 0] = 0.0  # pelvis missing: centre from the other joints
    conf[5] = 0.0  # nobody: all zero
    out = Pose2DCodec().encode(kp, conf)
    assert np.isfinite(out).all()
    assert (out[5] == 0).all()


def test_bad_input():
    kp, conf = _pose2d(T=5)
    kp[2, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        Pose2DCodec().encode(kp, conf)
    conf[2, 4] = 0.0  # NaN where the confidence is 0 is just a missing joint
    assert np.isfinite(Pose2DCodec().encode(np.nan_to_num(kp), conf)).all()
    with pytest.raises(InputError, match="expected kp2d"):
        Pose2DCodec().encode(kp[..., :1], conf)


def test_decode_and_root_relative():
    p = torch.randn(4, 17, 3)
    d = Pose2DCodec.decode(p)
    assert torch.all(d[:, 0] == 0)
    np.testing.assert_allclose(root_relative(p.numpy()), d.numpy(), atol=1e-6)


def test_flip_matches_a_mirrored_camera():
    """Flipping the encoded 2D equals encoding the 2D of the mirrored 3D (left/right swapped)."""
    rng = np.random.default_rng(3)
    pose_cam = rng.uniform([-0.3, -0.9, 4.0], [0.3, 0.9, 4.3], size=(1, 17, 3))
    K = np.array([[1000.0, 0, 0], [0, 1000.0, 0], [0, 0, 1]])  # principal point at 0: mirror is x -> -x
    px, _ = project(pose_cam, K, np.eye(3), np.zeros(3))
    pxm, _ = project(flip_pose3d(pose_cam), K, np.eye(3), np.zeros(3))
    codec = Pose2DCodec()
    ones = np.ones((1, 17))
    np.testing.assert_allclose(flip_features(codec.encode(px, ones)), codec.encode(pxm, ones), atol=1e-5)
    x = torch.randn(2, 17, 3)
    assert torch.equal(flip_features(flip_features(x)), x)
    assert list(H36M17.flip_permutation)[1] == H36M17.index("l_hip")


def test_look_at_helper_is_used_consistently():
    R, t = look_at(np.array([0.0, -4.0, 1.0]), np.zeros(3))
    assert np.allclose(R @ R.T, np.eye(3))
