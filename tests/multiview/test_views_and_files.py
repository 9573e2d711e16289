"""Views, calibration pairing, the label file, and the pseudo-label command."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from lift3d.cli.main import main
from lift3d.errors import InputError
from lift3d.io.kp2d import Keypoints2D
from lift3d.multiview.labels import LabelConfig, triangulate_views
from lift3d.multiview.labels_h5 import LabelledSequence, read_labels, write_labels
from lift3d.multiview.views import MultiView2D, from_keypoints, match_cameras, view_name


def _kp(T=20, fps=30.0, source="a.h5", size=(1920, 1080)):
    rng = np.random.default_rng(T)
    return Keypoints2D(rng.uniform(100, 900, (T, 17, 2)), np.ones((T, 17)), "h36m17", fps, source, size)


def test_views_of_different_lengths_or_rates_are_refused():
    with pytest.raises(InputError, match="different lengths: 20 frames in a.h5 but 21 in b.h5"):
        from_keypoints([_kp(), _kp(T=21, source="b.h5")])
    with pytest.raises(InputError, match="different frame rates: 30 fps in a.h5 but 25 in b.h5"):
        from_keypoints([_kp(), _kp(fps=25.0, source="b.h5")])
    with pytest.raises(InputError, match="at least 2 views"):
        from_keypoints([_kp()])


def test_view_names():
    assert view_name("/x/cam01_json") == "cam01" and view_name("cam2.h5") == "cam2"
    mv = from_keypoints([_kp(source="v/cam1.h5"), _kp(source="w/cam1.h5")])
    assert mv.names == ("cam1_0", "cam1_1") and mv.image_size.shape == (2, 2)


def test_cameras_pair_by_name_in_any_order(scene):
    _, mv, cams = scene
    shuffled = cams.subset([2, 0, 3, 1])
    assert match_cameras(mv, shuffled).names == cams.names
    renamed = type(cams)(K=cams.K, R=cams.R, t=cams.t, image_size=cams.image_size,
                         names=("int_cam0_img", "int_cam1_img", "int_cam2_img", "int_cam3_img"))
    assert match_cameras(mv, renamed.subset([3, 2, 1, 0])).names[0] == "int_cam0_img"


def test_camera_count_and_size_mismatch(scene):
    _, mv, cams = scene
    three = cams.subset([0, 1, 2])
    unnamed = MultiView2D(mv.kp2d_px, mv.conf, mv.fps, ("a", "b", "c", "d"), mv.image_size)
    with pytest.raises(InputError, match="calibration has 3 cameras"):
        match_cameras(unnamed, three, "calib.toml")
    wrong = MultiView2D(mv.kp2d_px, mv.conf, mv.fps, mv.names, mv.image_size * 0.5)
    with pytest.raises(InputError, match="view cam0 is"):
        match_cameras(wrong, cams)


def test_label_file_round_trip(tmp_path, scene):
    _, mv, cams = scene
    lab = triangulate_views(mv, cams, LabelConfig())
    path = tmp_path / "labels.h5"
    write_labels(path, [LabelledSequence("s", mv, lab)], {"x": 1})
    (back,) = read_labels(path)
    np.testing.assert_allclose(back.labels.pose3d_world_m, lab.pose3d_world_m, atol=1e-6)
    np.testing.assert_allclose(back.views.kp2d_px, mv.kp2d_px, atol=1e-3)
    np.testing.assert_allclose(back.labels.cameras.R.numpy(), cams.R.numpy())
    assert back.labels.calibrated and back.views.names == mv.names
    with h5py.File(path) as f:
        assert f.attrs["format"] == "lift3d.multiview-labels" and "kp2d_clean_px" not in f["s"]


def test_bad_label_files(tmp_path):
    with pytest.raises(InputError, match="label file not found"):
        read_labels(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        read_labels(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something"
    with pytest.raises(InputError, match="make one with lift3d pseudo-label"):
        read_labels(tmp_path / "other.h5")


def _write_npz(path, mv, v, T=None):
    kp = mv.kp2d_px[v][:T]
    np.savez(path, keypoints=np.concatenate([kp, mv.conf[v][:T, :, None]], -1), fps=30.0, skeleton="h36m17")


def test_cli_pseudo_label_uncalibrated_from_npz(tmp_path, scene, capsys):
    _, mv, cams = scene
    for v in range(4):
        _write_npz(tmp_path / f"cam{v}.npz", mv, v)
    out = tmp_path / "labels.h5"
    args = ["pseudo-label", "--views", *[str(tmp_path / f"cam{v}.npz") for v in range(4)], "--image-size",
            str(int(mv.image_size[0, 0])), str(int(mv.image_size[0, 1])), "-o", str(out), "--no-progress"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["calibrated"] is False and summary["valid_frames"] == mv.num_frames
    assert not read_labels(out)[0].labels.calibrated


def test_cli_pseudo_label_bad_input_leaves_no_output(tmp_path, scene, capsys):
    _, mv, _ = scene
    _write_npz(tmp_path / "cam0.npz", mv, 0)
    _write_npz(tmp_path / "cam1.npz", mv, 1, T=mv.num_frames - 5)
    out = tmp_path / "labels.h5"
    assert main(["pseudo-label", "--views", str(tmp_path / "cam0.npz"), str(tmp_path / "cam1.npz"), "-o", str(out)]) == 2
    assert "different lengths" in capsys.readouterr().err and not out.exists()
    assert main(["pseudo-label", "--views", str(tmp_path / "cam0.npz"), str(tmp_path / "nope.npz"), "-o", str(out)]) == 2
    assert "nope.npz" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam0.npz", "cam1.npz"]  # no output, no temporary file


def test_cli_pseudo_label_pose2sim(tmp_path, pose2sim_demo, capsys):
    d = pose2sim_demo / "single_balancing" / "pose_2d"
    out = tmp_path / "p2s.h5"
    views = [str(d / f"cam0{i}_json") for i in (3, 1, 4, 2)]  # any order: paired with the cameras by name
    assert main(["pseudo-label", "--views", *views, "--calib", str(pose2sim_demo / "calibration" / "Calib_qualisys.toml"),
                 "--fps", "60", "-o", str(out), "--no-progress"]) == 0
    (seq,) = read_labels(out)
    assert seq.labels.calibrated and seq.views.num_frames == 100 and (seq.labels.conf > 0).mean() > 0.95
    assert [n[-2:] for n in seq.labels.cameras.names] == ["03", "01", "04", "02"]
