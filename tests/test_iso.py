"""Inference-stage optimisation on real mocap seen by a virtual camera (cmu:131)."""

import numpy as np
import pytest
import torch

from lift3d.checkpoint import load_lifter
from lift3d.codec import root_relative
from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
from lift3d.data.mocap_h5 import read_multiview_h5
from lift3d.data.noise_2d import NoiseConfig
from lift3d.errors import InputError
from lift3d.geometry.camera import project_camera
from lift3d.infer import lift_sequence
from lift3d.iso import IsoConfig, geman_mcclure, iso_terms, optimise, solve_root, tune_lifter
from lift3d.train.losses import bone_lengths


@pytest.fixture(scope="module")
def view(shared_data, tmp_path_factory):
    """One camera's view of a real take: ground-truth camera-frame 3D (T, 17, 3), clean and noisy 2D, K, fps."""
    path = tmp_path_factory.mktemp("iso") / "cmu131.h5"
    build_mocap_dataset(BuildMocapConfig(views=1, subjects=["cmu:131"], datasets=["cmu_mocap"],
                                         noise=NoiseConfig(level=0.2)), path, data_dir=shared_data, progress=False)
    s = read_multiview_h5(path)[0]
    T = min(s.num_frames, 240)
    cam = s.pose3d_world_m[:T].astype(np.float64) @ s.cameras["R"][0].T + s.cameras["t"][0]
    return {"cam": cam, "clean": s.kp2d_clean_px[0, :T], "noisy": s.kp2d_px[0, :T], "conf": s.conf[0, :T],
            "K": s.cameras["K"][0], "fps": s.fps}


def _smooth_error(T, J, scale, seed=0):
    """A smooth random 3D error per joint (what a lifter gets wrong), root 0: (T, J, 3) metres."""
    rng = np.random.default_rng(seed)
    knots = rng.normal(0, scale, (T // 20 + 2, J, 3))
    t = np.linspace(0, len(knots) - 1, T)
    err = np.stack([np.stack([np.interp(t, np.arange(len(knots)), knots[:, j, k]) for k in range(3)], -1)
                    for j in range(J)], 1)
    return err - err[:, :1]


def test_solve_root_recovers_the_translation_exactly(view):
    cam, K = view["cam"][:50], torch.from_numpy(view["K"])
    rel = torch.from_numpy(root_relative(cam))
    px = project_camera(torch.from_numpy(cam), K)
    rays = (px - K[:2, 2]) / K[[0, 1], [0, 1]]  # (T, J, 2) normalised coordinates
    root, ok = solve_root(rel, rays, torch.ones(rel.shape[:2], dtype=rel.dtype))
    assert ok.all()
    np.testing.assert_allclose(root.numpy(), cam[:, 0], atol=1e-9)
    few = torch.zeros(rel.shape[:2], dtype=rel.dtype)
    few[:, :3] = 1.0  # three joints: not enough to trust
    assert not solve_root(rel, rays, few)[1].any()


def test_solve_root_gradcheck():
    rng = np.random.default_rng(0)
    rel = torch.tensor(rng.normal(0, 0.3, (2, 17, 3)), requires_grad=True)
    rays = torch.tensor(rng.normal(0, 0.2, (2, 17, 2)))
    w = torch.tensor(rng.uniform(0.2, 1, (2, 17)))
    assert torch.autograd.gradcheck(lambda p: solve_root(p, rays, w)[0], (rel,))


def test_geman_mcclure_is_zero_at_zero_and_saturates():
    sq = torch.tensor([0.0, 0.01, 1.0, 1e6], dtype=torch.float64)
    v = geman_mcclure(sq, 0.1)
    assert v[0] == 0 and (v.diff() > 0).all() and v[-1] < 1 and v[1] == pytest.approx(0.5)


def test_terms_are_zero_at_the_truth_and_grow_when_perturbed(view):
    cam = torch.from_numpy(view["cam"][:60])
    # a pose moving at constant velocity with constant bones: every term's optimum
    pose = cam[:1].expand(60, -1, -1) + torch.linspace(0, 0.5, 60, dtype=cam.dtype)[:, None, None] * torch.tensor(
        [1.0, 0.0, 0.2], dtype=cam.dtype)
    rel, root = pose - pose[:, :1], pose[:, 0]
    K = torch.from_numpy(view["K"])
    px, conf = project_camera(pose, K), torch.ones(60, 17, dtype=cam.dtype)
    bones = bone_lengths(rel)[0]
    size = torch.full((60,), 200.0, dtype=cam.dtype)
    args = (px, conf, K, None, size, 30.0, IsoConfig())
    at = iso_terms(rel, root, rel, bones, *args)
    for name, value in at.items():
        assert value.item() == pytest.approx(0.0, abs=1e-12), name
    bumped = rel.clone()
    bumped[30, 5] += 0.05
    off = iso_terms(bumped, root, rel, bones, *args)
    for name in ("reprojection", "prior", "bone", "smooth"):
        assert off[name] > at[name] + 1e-8, name


def test_iso_pulls_a_wrong_pose_onto_the_2d_and_places_it(view):
    cam, T = view["cam"], len(view["cam"])
    truth = root_relative(cam)
    net = truth + _smooth_error(T, 17, 0.06)  # a lifter's mistakes, about 60 mm per joint
    conf = np.ones((T, 17))
    res = optimise(net, view["clean"], conf, view["K"], view["fps"])
    before = np.linalg.norm(net - truth, axis=-1).mean()
    after = np.linalg.norm(res.pose3d_cam_m - truth, axis=-1).mean()
    assert after < 0.7 * before
    assert res.reproj_px_after < 0.5 * res.reproj_px_before
    assert np.abs(res.pose3d_cam_m[:, 0]).max() == 0  # root-relative
    depth_err = np.abs(res.root_cam_m[:, 2] - cam[:, 0, 2]).mean()
    assert depth_err < 0.1 * cam[:, 0, 2].mean()  # placed in the scene within 10% of its distance
    np.testing.assert_allclose(res.camera_K, view["K"])
    again = optimise(net, view["clean"], conf, view["K"], view["fps"])
    np.testing.assert_array_equal(again.pose3d_cam_m, res.pose3d_cam_m)  # deterministic


def test_low_confidence_joints_stay_with_the_network(view):
    cam, T = view["cam"][:120], 120
    net = root_relative(cam) + _smooth_error(T, 17, 0.06, seed=1)
    conf = np.ones((T, 17))
    conf[:, 16] = 0.0  # right wrist unseen: its 2D is garbage
    kp = view["clean"][:120].copy()
    kp[:, 16] += 300.0
    res = optimise(net, kp, conf, view["K"], view["fps"])
    moved = np.linalg.norm(res.pose3d_cam_m[:, 16] - net[:, 16], axis=-1).mean()
    assert moved < 0.05  # held by the prior, not dragged 300 px away


def test_chunks_join_smoothly(view):
    cam, T = view["cam"], len(view["cam"])
    net = root_relative(cam) + _smooth_error(T, 17, 0.05, seed=2)
    conf = np.ones((T, 17))
    whole = optimise(net, view["clean"], conf, view["K"], view["fps"], IsoConfig(chunk_frames=T))
    chunked = optimise(net, view["clean"], conf, view["K"], view["fps"], IsoConfig(chunk_frames=100, overlap_frames=20))
    truth = root_relative(cam)
    err_whole, err_chunked = (np.linalg.norm(r.pose3d_cam_m - truth, axis=-1).mean() for r in (whole, chunked))
    assert err_chunked < 1.1 * err_whole + 0.002  # chunks cost no accuracy
    step = np.linalg.norm(np.diff(chunked.root_cam_m, axis=0), axis=-1)
    assert step.max() < 5 * np.median(step) + 0.01  # no jump at a chunk boundary


def test_frames_without_a_person_get_an_interpolated_root(view):
    cam, T = view["cam"][:90], 90
    conf = np.ones((T, 17))
    conf[40:50] = 0.0
    res = optimise(root_relative(cam), view["clean"][:90], conf, view["K"], view["fps"])
    assert np.isfinite(res.root_cam_m).all()
    gap = res.root_cam_m[40:50]
    assert np.all(gap[:, 2] > 0.5) and np.abs(gap - cam[40:50, 0]).max() < 0.3


def test_bad_input_is_named(view):
    net, kp, conf = root_relative(view["cam"][:10]), view["clean"][:10], np.ones((10, 17))
    with pytest.raises(InputError, match="NaN"):
        optimise(np.where(np.arange(17)[None, :, None] == 3, np.nan, net), kp, conf, view["K"], 30.0)
    with pytest.raises(InputError, match="matching"):
        optimise(net, kp[:9], conf, view["K"], 30.0)
    with pytest.raises(InputError, match="intrinsics"):
        optimise(net, kp, conf, np.eye(2), 30.0)
    with pytest.raises(InputError, match="empty"):
        optimise(net[:0], kp[:0], conf[:0], view["K"], 30.0)
    with pytest.raises(InputError, match="prior_scale_m"):
        IsoConfig(prior_scale_m=0)


def test_test_time_tuning_fits_the_2d_better_and_leaves_the_lifter_alone(view):
    model, codec, ckpt = load_lifter(None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kp, conf, K = view["noisy"][:150], view["conf"][:150], view["K"]
    cfg = IsoConfig(tune_steps=20, tune_lr=1e-4)  # the README's --iso-set tune_steps=20
    tuned = tune_lifter(model, codec, kp, conf, K, view["fps"], cfg)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    base = optimise(lift_sequence(kp, conf, model, codec).numpy(), kp, conf, K, view["fps"], IsoConfig(iterations=1))
    adapted = optimise(lift_sequence(kp, conf, tuned, codec).numpy(), kp, conf, K, view["fps"], IsoConfig(iterations=1))
    assert adapted.reproj_px_before < base.reproj_px_before
