"""The readers on real data: Pose2Sim's demo (4 calibrated cameras, OpenPose BODY_25B 2D, Pose2Sim's TRC).

``shared/data/pose2sim_demo/SOURCE.md`` describes the files. The TRC is Pose2Sim's own triangulation of the
same 2D, so triangulating the 2D again with the same calibration must land on it. TRC row ``i`` (``Frame#``
``i + 1``) is JSON frame ``i``.

Measured here (torch 2.13 CPU, ``triangulate_robust`` defaults as of writing: max_reproj_px 20,
outlier_ratio 3; all 100 frames, 21 markers), median / 90th percentile:

- Triangulation vs TRC, Calib_qualisys.toml: 0.23 / 6.0 cm (head 0.03 / 2.7, arms 0.30 / 7.9, legs
  0.23 / 9.5, feet 0.37 / 5.0 cm). The tail is the hips and shoulders (medians 2-3.5 cm): there Pose2Sim
  dropped the side camera that sees the joint through the body (LHip without cam01, RHip without cam03
  reproduce the TRC to 0.04 cm), which the robust triangulation here keeps.
  Calib_scene.toml: 3.9 / 6.3 cm (head 2.9 / 3.9, arms 3.4 / 6.1, legs 4.2 / 7.5, feet 4.4 / 6.1 cm).
- TRC projected into the images vs the detections (conf > 0.3), median px per camera cam01-04:
  Calib_qualisys 11.4 / 7.9 / 17.2 / 9.1; Calib_scene 16.3 / 12.9 / 24.0 / 12.0 (SOURCE.md, 20 frames:
  11.9 / 7.9 / 17.5 / 9.1 and 16.2 / 13.2 / 24.2 / 11.6).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from lift3d.geometry import triangulate_robust
from lift3d.io.calibration import read_calibration_qca, read_calibration_toml, write_calibration_toml
from lift3d.io.openpose import read_openpose_folder, read_openpose_frame
from lift3d.io.trc import POSE2SIM_TO_BODY25B, read_trc, trc_to_zup, write_trc
from lift3d.skeletons.mapping import TO_H36M, to_h36m
from lift3d.skeletons.tables import BODY25B

log = logging.getLogger(__name__)

VIEWS = ("cam01", "cam02", "cam03", "cam04")
TRC_NAME = "S00_P00_T01_BalancingTrial_0-100.trc"
GROUPS = {
    "head": ("Nose", "Neck", "Head"),
    "arms": ("RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist"),
    "legs": ("RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle"),
    "feet": ("RBigToe", "RSmallToe", "RHeel", "LBigToe", "LSmallToe", "LHeel"),
}


@pytest.fixture(scope="module")
def demo(pose2sim_demo):
    return pose2sim_demo


@pytest.fixture(scope="module")
def views(demo):
    """The tracked main subject in each view, skeleton detected automatically."""
    return [read_openpose_folder(demo / "single_balancing" / "pose_2d" / f"{v}_json") for v in VIEWS]


@pytest.fixture(scope="module")
def reference(demo):
    return read_trc(demo / "single_balancing" / "pose_3d" / TRC_NAME)


def _calibration(demo, name):
    path = demo / "calibration" / name
    return read_calibration_qca(path) if name.endswith(".qca.txt") else read_calibration_toml(path)


def _marker_joints(trc) -> list[int]:
    return [BODY25B.index(POSE2SIM_TO_BODY25B[m]) for m in trc.marker_names]


def _stack(views):
    """``kp2d_px (T, V, J, 2)`` float64 and ``conf (T, V, J)`` tensors."""
    kp = torch.from_numpy(np.stack([s.kp2d_px for s in views], axis=1).astype(np.float64))
    conf = torch.from_numpy(np.stack([s.conf for s in views], axis=1).astype(np.float64))
    return kp, conf


def _triangulate(cams, views):
    """Undistort, then robust DLT with the OpenPose confidences: ``points (T, J, 3)``, ``valid (T, J)``."""
    kp, conf = _stack(views)
    undist = cams.undistort(kp)  # (T, V, J, 2)
    res = triangulate_robust(undist.permute(0, 2, 1, 3), cams.projection_matrices(), conf.permute(0, 2, 1))
    return res.points.numpy(), res.valid.numpy()


def _triangulation_vs_trc(demo, views, reference, calib):
    cams = _calibration(demo, calib)
    points, valid = _triangulate(cams, views)
    idx = _marker_joints(reference)
    err_cm = 100 * np.linalg.norm(points[:, idx] - trc_to_zup(reference.positions_m), axis=-1)  # (T, M)
    ok = valid[:, idx] & np.isfinite(err_cm)
    stats = {"all": (np.median(err_cm[ok]), np.percentile(err_cm[ok], 90))}
    for group, markers in GROUPS.items():
        cols = [reference.marker_names.index(m) for m in markers]
        e = err_cm[:, cols][ok[:, cols]]
        stats[group] = (np.median(e), np.percentile(e, 90))
    text = ", ".join(f"{g} {m:.2f}/{p:.1f}" for g, (m, p) in stats.items())
    return stats, f"{calib}: triangulation vs TRC median/p90 cm: {text}; valid {ok.mean():.3f}"


def _reprojection_px(demo, views, reference, calib):
    cams = _calibration(demo, calib)
    proj = cams.project(torch.from_numpy(trc_to_zup(reference.positions_m))).numpy()  # (T, V, M, 2)
    kp, conf = _stack(views)
    idx = _marker_joints(reference)
    err = np.linalg.norm(proj - kp.numpy()[:, :, idx], axis=-1)  # (T, V, M)
    confident = conf.numpy()[:, :, idx] > 0.3
    return [float(np.median(err[:, v][confident[:, v]])) for v in range(len(VIEWS))]


def test_frames_pair_up(views, reference):
    for seq in views:
        np.testing.assert_array_equal(seq.frame_numbers + 1, reference.frame_numbers)
    assert reference.units == "m" and reference.fps == 60 and len(reference.marker_names) == 21


@pytest.mark.parametrize("calib", ["Calib_qualisys.toml", "Calib_scene.toml", "Calib.qca.txt"])
def test_reads_all_three_calibrations(demo, calib):
    """Camera centres -R^T t: 1.7-2.1 m high (Z-up world) and 3-4.5 m from the origin."""
    cams = _calibration(demo, calib)
    assert len(cams.names) == 4
    centres = cams.centers().numpy()
    # "About 1.7-2.1 m" (SOURCE.md): cam02 is at 1.69 m, hence 5 cm of slack.
    assert ((centres[:, 2] > 1.65) & (centres[:, 2] < 2.15)).all(), centres
    distance = np.linalg.norm(centres, axis=1)
    assert ((distance > 3.0) & (distance < 4.5)).all(), distance
    np.testing.assert_array_equal(cams.image_size.numpy(), [[1088, 1920]] * 4)


def test_qca_and_scene_agree_with_qualisys(demo):
    """The .qca.txt gives Calib_qualisys.toml exactly, but for Pose2Sim's distortion / 64; Calib_scene's
    cameras are within 15 cm of them (measured: at most 13 cm, cam02)."""
    toml, qca, scene = (_calibration(demo, c) for c in ("Calib_qualisys.toml", "Calib.qca.txt", "Calib_scene.toml"))
    for field in ("K", "R", "t"):
        torch.testing.assert_close(getattr(qca, field), getattr(toml, field), rtol=0, atol=1e-9)
    torch.testing.assert_close(qca.dist / 64, toml.dist, rtol=0, atol=1e-12)
    gap = torch.linalg.vector_norm(scene.centers() - toml.centers(), dim=-1)
    assert (gap < 0.15).all(), gap


def test_real_calibration_round_trip(demo, tmp_path):
    cams = _calibration(demo, "Calib_qualisys.toml")
    write_calibration_toml(cams, tmp_path / "calib.toml")
    back = read_calibration_toml(tmp_path / "calib.toml")
    assert back.names == cams.names
    for field in ("K", "t", "dist", "image_size"):
        assert torch.equal(getattr(back, field), getattr(cams, field)), field
    torch.testing.assert_close(back.R, cams.R, rtol=0, atol=1e-12)


def test_real_trc_round_trip(reference, tmp_path):
    write_trc(tmp_path / "x.trc", reference.marker_names, reference.positions_m, reference.fps,
              frame_numbers=reference.frame_numbers, times=reference.times)
    back = read_trc(tmp_path / "x.trc")
    np.testing.assert_array_equal(back.positions_m, reference.positions_m)
    np.testing.assert_array_equal(back.times, reference.times)
    assert back.marker_names == reference.marker_names


def test_skeleton_detected_as_body25b(views):
    """No name hint in cam0X_json / cam0X.NNNN.json: the geometry rule decides, in every view."""
    assert [s.skeleton for s in views] == ["body25b"] * 4


def test_triangulation_reproduces_trc_qualisys(demo, views, reference):
    """Undistort + triangulate_robust of the BODY_25B 2D reproduces Pose2Sim's TRC: measured median 0.23 cm,
    p90 6.0 cm (Calib_qualisys.toml). Asserted: median < 5 cm, p90 < 10 cm."""
    stats, report = _triangulation_vs_trc(demo, views, reference, "Calib_qualisys.toml")
    log.info(report)
    assert stats["all"][0] < 5.0 and stats["all"][1] < 10.0, report


def test_triangulation_vs_trc_scene_calibration(demo, views, reference):
    """With Calib_scene.toml (estimated independently; the TRC was made with Calib_qualisys), measured
    median 3.9 cm, p90 6.3 cm. Asserted: median < 6 cm."""
    stats, report = _triangulation_vs_trc(demo, views, reference, "Calib_scene.toml")
    log.info(report)
    assert stats["all"][0] < 6.0, report


def test_trc_projects_onto_detections_qualisys(demo, views, reference):
    """Measured medians cam01-04: 11.4 / 7.9 / 17.2 / 9.1 px (conf > 0.3, 100 frames). Asserted < 25 px."""
    px = _reprojection_px(demo, views, reference, "Calib_qualisys.toml")
    log.info("Calib_qualisys.toml: TRC reprojection median px per camera %s", np.round(px, 1))
    assert max(px) < 25.0, f"Calib_qualisys.toml: TRC reprojection median px per camera {np.round(px, 1)}"


def test_trc_projects_onto_detections_scene(demo, views, reference):
    """Measured medians cam01-04: 16.3 / 12.9 / 24.0 / 12.0 px. Asserted < 30 px."""
    px = _reprojection_px(demo, views, reference, "Calib_scene.toml")
    log.info("Calib_scene.toml: TRC reprojection median px per camera %s", np.round(px, 1))
    assert max(px) < 30.0, f"Calib_scene.toml: TRC reprojection median px per camera {np.round(px, 1)}"


@pytest.mark.parametrize("view", [0, 1])
def test_tracked_subject_is_not_the_bystander(demo, views, reference, view):
    """cam01 / cam02 show a bystander in every frame. In every frame with more than one person, the kept
    person is the one the TRC projects onto (median joint distance < 40 px) and the person farthest from the
    projection (the bystander, > 150 px away) is not kept. cam01 frame 37 has the subject split into an upper
    and a lower body by OpenPose; both halves are kept."""
    cams = _calibration(demo, "Calib_qualisys.toml")
    proj = cams.project(torch.from_numpy(trc_to_zup(reference.positions_m))).numpy()[:, view]  # (T, M, 2)
    idx = _marker_joints(reference)
    seq = views[view]
    multi = 0
    for t, path in enumerate(seq.frame_files):
        kp, conf = read_openpose_frame(path)
        if len(conf) < 2:
            continue
        multi += 1

        def distance(points, c):
            d = np.linalg.norm(points[idx] - proj[t], axis=-1)[c[idx] > 0.3]
            return np.median(d) if d.size else np.inf

        kept = distance(seq.kp2d_px[t], seq.conf[t])
        others = [distance(kp[p], conf[p]) for p in range(len(conf))]
        bystander = int(np.argmax(others))
        assert kept < 40.0, (VIEWS[view], t, kept, others)
        assert others[bystander] > 150.0 and seq.person_index[t] != bystander, (VIEWS[view], t, others)
    assert multi >= 50, f"{VIEWS[view]}: only {multi} frames with a bystander"


def test_h36m_mapping_is_finite(demo, views):
    """BODY_25B -> H36M17 with to_h36m: finite 2D everywhere, and a confident H36M joint wherever its BODY_25B
    sources are confident; finite 3D from the triangulation, valid for > 95% of joints.

    lift3d's neck is the nose and its head mid-ears; the subject turns his face from cam03/cam04 and one ear
    from cam01, so those two joints rely on the mapping's fallbacks (one visible ear for the head, mid-ears for
    a hidden nose). Without fallbacks, the share of frames with all 17 joints confident was 0 / 0.46 / 0 / 0
    (cam01-04); without neck and head it is 0.94 / 0.95 / 0.79 / 1.0."""
    mapping = TO_H36M["body25b"]
    body = [j for j, name in enumerate(mapping.target.joints) if name not in ("neck", "head")]
    head = mapping.target.index("head")
    for seq in views:
        kp, conf = to_h36m(seq.kp2d_px, seq.conf, seq.skeleton)
        assert kp.shape == (seq.num_frames, 17, 2) and np.isfinite(kp).all() and np.isfinite(conf).all()
        sources_ok = ((seq.conf[:, None, :] > 0.3) | ~mapping.support).all(axis=-1)  # (T, 17)
        np.testing.assert_array_equal(conf[:, body] > 0.3, sources_ok[:, body])
        assert (conf[:, body] > 0.3).all(axis=1).mean() > 0.7
        # With the one-ear fallback the head is at least as often confident as with mid-ears alone.
        assert (conf[:, head] > 0.3).mean() >= sources_ok[:, head].mean()
    cams = _calibration(demo, "Calib_qualisys.toml")
    points, valid = _triangulate(cams, views)
    p3, v3 = to_h36m(points, valid.astype(np.float64), "body25b")
    assert p3.shape == (views[0].num_frames, 17, 3)
    assert np.isfinite(p3).all() and (v3 > 0).mean() > 0.95
