"""Epipolar labels: calibrated triangulation, self-calibration, confidences, and bad geometry."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.geometry import CameraSet, apply_similarity, similarity_align
from lift3d.io.calibration import read_calibration_toml
from lift3d.io.trc import limb_joints_zup, read_trc
from lift3d.multiview.labels import LabelConfig, person_size_px, ray_angle_deg, triangulate_views
from lift3d.multiview.pseudo_label import make_labels
from lift3d.multiview.selfcal import REFERENCE_BONE_SUM_M, bone_sum, guess_intrinsics, label_uncalibrated
from lift3d.multiview.views import MultiView2D, load_views, match_cameras


log = logging.getLogger(__name__)
POSE2SIM_VIEWS = ("cam01", "cam02", "cam03", "cam04")


def _similarity_error(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    s, R, t = similarity_align(torch.from_numpy(x), torch.from_numpy(y))
    return np.linalg.norm(apply_similarity(torch.from_numpy(x), s, R, t).numpy() - y, axis=-1)


def test_calibrated_exact_2d_recovers_the_pose(scene):
    pose, mv, cams = scene
    lab = triangulate_views(mv, cams, LabelConfig())
    assert lab.frame_valid.all() and (lab.conf > 0.9).all()
    np.testing.assert_allclose(lab.pose3d_world_m, pose, atol=1e-6)
    assert np.nanmax(lab.reproj_px) < 1e-3 and lab.views_used.all()


def test_wrong_view_is_dropped_and_lowers_confidence(scene):
    pose, mv, cams = scene
    kp = mv.kp2d_px.copy()
    kp[2, :, 13] += 60.0  # view 2 puts the left wrist 60 px off
    bad = MultiView2D(kp, mv.conf, mv.fps, mv.names, mv.image_size)
    lab = triangulate_views(bad, cams, LabelConfig())
    assert not lab.views_used[2, :, 13].any() and lab.views_used[2, :, 12].all()
    np.testing.assert_allclose(lab.pose3d_world_m[:, 13], pose[:, 13], atol=1e-5)
    assert (lab.conf[:, 13] < 0.8).all() and (lab.conf[:, 12] > 0.9).all()  # agreement 3/4


def test_noise_lowers_label_confidence(scene):
    pose, mv, cams = scene
    rng = np.random.default_rng(0)
    size = person_size_px(mv)
    confs = []
    for level in (0.0, 0.01, 0.03):
        noisy = MultiView2D(mv.kp2d_px + rng.normal(0, 1, mv.kp2d_px.shape) * level * size[:, None, None, None],
                            mv.conf, mv.fps, mv.names, mv.image_size)
        confs.append(triangulate_views(noisy, cams, LabelConfig()).conf.mean())
    assert confs[0] > confs[1] > confs[2] > 0


def test_joint_seen_by_one_view_is_not_labelled(scene):
    _, mv, cams = scene
    conf = mv.conf.copy()
    conf[1:, :, 3] = 0.0  # right ankle only in view 0
    lab = triangulate_views(MultiView2D(mv.kp2d_px, conf, mv.fps, mv.names, mv.image_size), cams, LabelConfig())
    assert (lab.conf[:, 3] == 0).all() and (lab.pose3d_world_m[:, 3] == 0).all() and np.isnan(lab.reproj_px[:, :, 3]).all()


def test_cameras_in_line_with_the_person_flag_frames(make_pose):
    pose = make_pose(T=10)
    centre = pose[:, 0].mean(0)
    # Two cameras on one line through the person: rays meet at ~0 degrees, depth unobservable.
    K = np.array([[1000.0, 0, 960], [0, 1000, 540], [0, 0, 1]])
    Rs, ts = [], []
    for dist in (4.0, 8.0):
        C = centre + np.array([dist, 0, 0])
        z = (centre - C) / np.linalg.norm(centre - C)
        x = np.cross(z, [0, 0, 1.0]); x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])
        Rs.append(R), ts.append(-R @ C)
    cams = CameraSet.from_numpy(K=np.stack([K, K]), R=np.stack(Rs), t=np.stack(ts), image_size=[[1920, 1080]] * 2)
    kp = cams.project(torch.from_numpy(pose)).numpy().transpose(1, 0, 2, 3)  # (V, T, 17, 2)
    mv = MultiView2D(kp, np.ones(kp.shape[:3]), 30.0, ("a", "b"), [[1920, 1080]] * 2)
    lab = triangulate_views(mv, cams, LabelConfig())
    # Joints near the line (pelvis, spine, thorax) are unlabelled; only far extremities keep a usable angle.
    assert not lab.frame_valid.any() and (lab.conf[:, [0, 7, 8]] == 0).all() and (lab.conf > 0).mean() < 0.25
    with pytest.raises(InputError, match="degenerate camera geometry"):
        make_labels(mv, LabelConfig(), cams)


def test_ray_angle():
    centers = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert ray_angle_deg(np.zeros(3), centers, np.array([True, True])) == pytest.approx(90.0)
    assert ray_angle_deg(np.zeros(3), centers, np.array([True, False])) == pytest.approx(0.0)


def test_uncalibrated_recovers_the_pose_up_to_similarity(scene):
    pose, mv, cams = scene
    lab = label_uncalibrated(mv, LabelConfig(), K=cams.K.numpy())
    assert not lab.calibrated and lab.frame_valid.all()
    err = _similarity_error(lab.pose3d_world_m.reshape(-1, 3), pose.reshape(-1, 3))
    assert err.max() < 1e-3
    assert bone_sum(lab.pose3d_world_m, lab.conf) == pytest.approx(REFERENCE_BONE_SUM_M, rel=1e-6)
    # World = view 0's camera; the other cameras' relative rotations are recovered.
    R_true = cams.R.numpy() @ cams.R.numpy()[0].T
    np.testing.assert_allclose(lab.cameras.R.numpy(), R_true, atol=1e-4)


def test_uncalibrated_with_guessed_intrinsics(scene):
    pose, mv, cams = scene
    lab = label_uncalibrated(mv, LabelConfig(), K=None)
    err = _similarity_error(lab.pose3d_world_m.reshape(-1, 3), pose.reshape(-1, 3))
    log.info("guessed intrinsics (true focal %s, guessed %s): similarity-aligned error median %.1f mm",
             cams.K[:, 0, 0].tolist(), guess_intrinsics(mv.image_size)[:, 0, 0].tolist(), 1000 * np.median(err))
    assert np.median(err) < 0.05


def test_uncalibrated_needs_image_size_or_intrinsics(scene):
    _, mv, _ = scene
    no_size = MultiView2D(mv.kp2d_px, mv.conf, mv.fps, mv.names, None)
    with pytest.raises(InputError, match="image size"):
        label_uncalibrated(no_size, LabelConfig())


def test_uncalibrated_too_few_shared_joints(scene):
    _, mv, cams = scene
    conf = mv.conf.copy()
    conf[1, 2:] = 0.0  # view 1 sees only 2 frames
    few = MultiView2D(mv.kp2d_px, conf, mv.fps, mv.names, mv.image_size)
    with pytest.raises(InputError, match="cam0 and cam1 share only 34 confident"):
        label_uncalibrated(few, LabelConfig(), K=cams.K.numpy())


def test_person_missing_from_a_view(scene):
    _, mv, cams = scene
    conf = mv.conf.copy()
    conf[3] = 0.0
    with pytest.raises(InputError, match=r"no person found in view\(s\) \['cam3'\]"):
        triangulate_views(MultiView2D(mv.kp2d_px, conf, mv.fps, mv.names, mv.image_size), cams, LabelConfig())


def test_calibration_of_other_cameras_is_refused(scene, make_pose, make_views):
    _, mv, cams = scene
    _, other = make_views(make_pose(), seed=7)
    with pytest.raises(InputError, match="do not match the views"):
        make_labels(mv, LabelConfig(), other)


# --- real data: Pose2Sim's 4 calibrated views (OpenPose BODY_25B) and its reference TRC ---------------------


@pytest.fixture(scope="module")
def p2s_views(pose2sim_demo):
    return load_views([pose2sim_demo / "single_balancing" / "pose_2d" / f"{v}_json" for v in POSE2SIM_VIEWS], fps=60)


@pytest.fixture(scope="module")
def p2s_reference(pose2sim_demo):
    return limb_joints_zup(read_trc(pose2sim_demo / "single_balancing" / "pose_3d" / "S00_P00_T01_BalancingTrial_0-100.trc"))


def test_pose2sim_calibrated_labels_match_the_trc(pose2sim_demo, p2s_views, p2s_reference):
    """Measured: median 0.2 cm (Calib_qualisys), 3.8 cm (Calib_scene); >99% of joint-frames labelled."""
    joints, ref = p2s_reference
    for calib, limit_cm in (("Calib_qualisys.toml", 1.0), ("Calib_scene.toml", 5.0)):
        cams = match_cameras(p2s_views, read_calibration_toml(pose2sim_demo / "calibration" / calib))
        assert [c.replace("_img", "")[-2:] for c in cams.names] == ["01", "02", "03", "04"]
        lab = make_labels(p2s_views, LabelConfig(), cams)
        ok = lab.conf[:, joints] > 0
        err_cm = 100 * np.linalg.norm(lab.pose3d_world_m[:, joints] - ref, axis=-1)[ok]
        log.info("%s: labels vs TRC median %.2f cm, p90 %.1f cm, labelled %.3f", calib, np.median(err_cm),
                 np.percentile(err_cm, 90), ok.mean())
        assert ok.mean() > 0.95 and np.median(err_cm) < limit_cm


def test_pose2sim_uncalibrated_labels_match_the_trc(pose2sim_demo, p2s_views, p2s_reference):
    """Intrinsics from Calib_qualisys, extrinsics estimated: measured 2.7 cm median after a similarity."""
    joints, ref = p2s_reference
    cams = match_cameras(p2s_views, read_calibration_toml(pose2sim_demo / "calibration" / "Calib_qualisys.toml"))
    lab = make_labels(p2s_views, LabelConfig(), cams, calibrated=False)
    ok = lab.conf[:, joints] > 0
    err_cm = 100 * _similarity_error(lab.pose3d_world_m[:, joints][ok], ref[ok])
    log.info("uncalibrated: labels vs TRC median %.2f cm after similarity", np.median(err_cm))
    assert ok.mean() > 0.95 and np.median(err_cm) < 5.0
