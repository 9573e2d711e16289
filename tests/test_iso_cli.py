"""``lift3d infer --iso`` on Pose2Sim's real 2D (OpenPose) with its calibration: the exported 3D reprojects onto
the 2D, and the person is placed where Pose2Sim's reference triangulation puts them."""

import json

import numpy as np
import pytest
import torch

from lift3d.cli.main import main
from lift3d.geometry.camera import project_camera
from lift3d.io.calibration import read_calibration_toml
from lift3d.io.exports import read_result
from lift3d.io.trc import read_trc, trc_to_zup


@pytest.fixture(scope="module")
def scene(pose2sim_demo):
    calib = pose2sim_demo / "calibration" / "Calib_qualisys.toml"
    trc = read_trc(pose2sim_demo / "single_balancing" / "pose_3d" / "S00_P00_T01_BalancingTrial_0-100.trc")
    return {"calib": calib, "cams": read_calibration_toml(calib), "trc": trc,
            "json": pose2sim_demo / "single_balancing" / "pose_2d" / "cam02_json"}


def _reprojection_px(r):
    """Projected with the exported camera alone, as a user of the file would."""
    px = project_camera(torch.from_numpy((r.pose3d_cam_m + r.root_cam_m[:, None]).astype(np.float64)),
                        torch.from_numpy(r.camera_K),
                        None if r.camera_dist is None else torch.from_numpy(r.camera_dist)).numpy()
    return np.median(np.linalg.norm(px - r.kp2d_px, axis=-1)[r.conf > 0.3])


def test_iso_exports_a_placed_person_that_reprojects(scene, tmp_path, capsys):
    out = tmp_path / "cam02.h5"
    args = ["infer", str(scene["json"]), "--fps", "60", "-o", str(out), "--no-progress", "--iso",
            "--calib", str(scene["calib"]), "--camera", "cam_02"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    r = read_result(out)
    v = scene["cams"].names.index("cam_02")
    np.testing.assert_allclose(r.camera_K, scene["cams"].K[v].numpy())
    np.testing.assert_allclose(printed["camera_K"], r.camera_K)
    assert r.root_cam_m.shape == (r.num_frames, 3) and r.camera_dist is not None
    assert _reprojection_px(r) < 10.0  # the detections are 1080 x 1920; the TRC itself reprojects at 7.9 px

    # Where the reference puts the pelvis (mid-hips of the TRC markers), in this camera's frame.
    trc = scene["trc"]
    hips = [trc.marker_names.index(m) for m in ("RHip", "LHip")]
    world = trc_to_zup(trc.positions_m)[:, hips].mean(axis=1)  # (T, 3)
    cam = world @ scene["cams"].R[v].numpy().T + scene["cams"].t[v].numpy()
    dist = np.linalg.norm(cam, axis=-1)
    placed = np.linalg.norm(r.root_cam_m[: len(cam)] - cam, axis=-1)
    assert np.median(placed) < 0.15 * np.median(dist)  # monocular, metric: within 15% of the distance

    plain = tmp_path / "plain.h5"
    assert main(["infer", str(scene["json"]), "--fps", "60", "-o", str(plain), "--no-progress"]) == 0
    assert read_result(plain).root_cam_m is None


def test_iso_options_are_checked(scene, tmp_path, capsys):
    base = ["infer", str(scene["json"]), "--fps", "60", "-o", str(tmp_path / "o.h5"), "--no-progress"]
    cases = [
        (["--iso-set", "iterations=5"], "need --iso"),
        (["--iso", "--calib", str(scene["calib"])], "pick one with --camera"),
        (["--iso", "--calib", str(scene["calib"]), "--camera", "nope"], "no camera 'nope'"),
        (["--iso", "--focal", "1000"], "image size"),
        (["--iso", "--iso-set", "smooth_scale_ms2=0"], "smooth_scale_ms2"),
        (["--iso", "--iso-set", "speed=3"], "unknown key"),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert not list(tmp_path.iterdir())  # nothing written
