import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.infer import Pose3DResult
from lift3d.io.exports import OUTPUT_FORMATS, read_result, read_trc_pose3d, write_result
from lift3d.io.kp2d import read_keypoints


def _result(T=12, size=(1280, 720)):
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.3, (T, 17, 3)).astype(np.float32)
    pose[:, 0] = 0
    return Pose3DResult(pose, rng.uniform(0, 700, (T, 17, 2)).astype(np.float32),
                        rng.uniform(0, 1, (T, 17)).astype(np.float32), np.arange(T) % 5 == 0, 29.97,
                        "clips/walk, take 1.mp4", "0123456789ab", size)


@pytest.mark.parametrize("fmt", [f for f in OUTPUT_FORMATS if f != "trc"])
@pytest.mark.parametrize("size", [(1280, 720), None])
def test_every_format_reads_back_the_same_numbers(tmp_path, fmt, size):
    r = _result(size=size)
    back = read_result(write_result(tmp_path / f"out.{fmt}", r))
    for name in ("pose3d_cam_m", "kp2d_px", "conf", "interpolated"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name), err_msg=name)
    assert (back.fps, back.source, back.checkpoint_id, back.image_size) == (r.fps, r.source, r.checkpoint_id, size)
    again = read_keypoints(tmp_path / f"out.{fmt}")  # a result is also a 2D input
    np.testing.assert_array_equal(again.kp2d_px, np.where(r.conf[..., None] > 0, r.kp2d_px, 0))


def _placed(T=12):
    """A result as ISO and the discriminator leave it: root, camera and plausibility added."""
    r = _result(T)
    rng = np.random.default_rng(1)
    r.root_cam_m = (rng.normal(0, 0.5, (T, 3)) + [0, 0, 4]).astype(np.float32)
    r.camera_K = np.array([[1400.0, 0, 639.5], [0, 1400.0, 359.5], [0, 0, 1]])
    r.camera_dist = np.array([-0.1, 0.02, 0.001, -0.002, 0.0])
    r.plausibility = rng.uniform(0, 1, T).astype(np.float32)
    return r


@pytest.mark.parametrize("fmt", [f for f in OUTPUT_FORMATS if f != "trc"])
def test_root_camera_and_plausibility_read_back(tmp_path, fmt):
    r = _placed()
    back = read_result(write_result(tmp_path / f"out.{fmt}", r))
    for name in ("pose3d_cam_m", "kp2d_px", "conf", "interpolated", "root_cam_m", "plausibility"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name), err_msg=name)
    np.testing.assert_array_equal(back.camera_K, r.camera_K)
    np.testing.assert_array_equal(back.camera_dist, r.camera_dist)
    assert read_keypoints(tmp_path / f"out.{fmt}").num_frames == r.num_frames  # still a 2D input
    plain = read_result(write_result(tmp_path / f"plain.{fmt}", _result()))
    assert plain.root_cam_m is None and plain.camera_K is None and plain.plausibility is None


def test_trc_places_the_person_when_the_root_is_known(tmp_path):
    r = _placed()
    pose, _ = read_trc_pose3d(write_result(tmp_path / "out.trc", r))
    np.testing.assert_allclose(pose, r.pose3d_cam_m + r.root_cam_m[:, None], atol=1e-6)


def test_trc_holds_the_3d_upright(tmp_path):
    r = _result()
    pose, fps = read_trc_pose3d(write_result(tmp_path / "out.trc", r))
    np.testing.assert_allclose(pose, r.pose3d_cam_m, atol=1e-7)
    assert fps == pytest.approx(29.97)


def test_unknown_suffix_and_foreign_files(tmp_path):
    with pytest.raises(InputError, match="suffix"):
        write_result(tmp_path / "out.xyz", _result())
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(InputError, match="not a lift3d result"):
        read_result(tmp_path / "other.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz"]  # nothing half-written left behind
