"""Calibration files: Pose2Sim TOML read/write round trips and errors, Qualisys .qca.txt."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from lift3d.errors import InputError
from lift3d.geometry import CameraSet
from lift3d.io.calibration import read_calibration_qca, read_calibration_toml, write_calibration_toml

# The first camera of Pose2Sim's Calib_qualisys.toml, and its [metadata] table.
_CAM = """\
[cam_01]
name = "cam_01"
size = [ 1088.0, 1920.0]
matrix = [ [ 1681.244873046875, 0.0, 532.97369384375], [ 0.0, 1681.075439453125, 948.137390140625], [ 0.0, 0.0, 1.0]]
distortions = [ -0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05]
rotation = [ 1.6882754799999993, 1.0483220499999997, -0.41955852000000016]
translation = [ 0.3211048899999996, 0.9563320600000009, 2.8907130499999996]
fisheye = false
"""
_META = "\n[metadata]\nadjusted = false\nerror = 0.0\n"


def _cameras() -> CameraSet:
    rng = np.random.default_rng(0)
    V = 3
    rvecs = rng.normal(size=(V, 3))
    R = np.stack([cv2.Rodrigues(r)[0] for r in rvecs])
    K = np.array([[[1500.0 + 10 * v, 0.5 * v, 540.0 + v], [0.0, 1490.0 + v, 960.0 - v], [0.0, 0.0, 1.0]]
                  for v in range(V)])
    dist = rng.normal(scale=0.01, size=(V, 5))
    dist[0, 4] = 0.0  # written as four coefficients
    t = rng.normal(size=(V, 3))
    size = np.array([[1080.0, 1920.0], [1088.0, 1920.0], [640.0, 480.0]])
    return CameraSet(K=K, R=R, t=t, dist=dist, image_size=size, names=("cam_01", "side cam", "top.3"))


def test_round_trip(tmp_path):
    cams = _cameras()
    path = tmp_path / "calib.toml"
    write_calibration_toml(cams, path)
    back = read_calibration_toml(path)
    assert back.names == cams.names
    for field in ("K", "t", "dist", "image_size"):
        assert torch.equal(getattr(back, field), getattr(cams, field)), field
    torch.testing.assert_close(back.R, cams.R, rtol=0, atol=1e-12)
    assert back.K.dtype == torch.float64
    text = path.read_text()
    assert "[metadata]" in text and '["side cam"]' in text
    assert "distortions = [" in text and text.count("fisheye = false") == 3
    assert not list(tmp_path.glob(".*tmp"))


def test_write_overwrites_atomically_and_needs_the_directory(tmp_path):
    path = tmp_path / "calib.toml"
    path.write_text("old")
    write_calibration_toml(_cameras(), path)
    assert read_calibration_toml(path).names[0] == "cam_01"
    assert [p.name for p in tmp_path.iterdir()] == ["calib.toml"]
    with pytest.raises(InputError, match="directory does not exist"):
        write_calibration_toml(_cameras(), tmp_path / "missing" / "calib.toml")


def test_reads_pose2sim_layout(tmp_path):
    path = tmp_path / "Calib_qualisys.toml"
    path.write_text(_CAM + _META)
    cams = read_calibration_toml(path)
    assert cams.names == ("cam_01",)
    assert cams.K.shape == (1, 3, 3) and cams.R.shape == (1, 3, 3) and cams.t.shape == (1, 3)
    assert cams.dist.shape == (1, 5) and cams.image_size.shape == (1, 2)
    R = cv2.Rodrigues(np.array([1.6882754799999993, 1.0483220499999997, -0.41955852000000016]))[0]
    np.testing.assert_allclose(cams.R[0].numpy(), R, atol=1e-12)
    np.testing.assert_array_equal(cams.dist[0].numpy(), [-0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05, 0])
    np.testing.assert_array_equal(cams.image_size[0].numpy(), [1088.0, 1920.0])


def test_calib_scene_layout_and_optional_fields(tmp_path):
    """Calib_scene.toml names its tables [int_cam01_img]; aniposelib files may omit fisheye; name defaults."""
    text = _CAM.replace("[cam_01]", "[int_cam01_img]").replace('name = "cam_01"\n', "").replace("fisheye = false\n", "")
    text = text.replace("1.078125e-05]", "1.078125e-05, 0.001]")  # k3
    path = tmp_path / "Calib_scene.toml"
    path.write_text(text + _META)
    cams = read_calibration_toml(path)
    assert cams.names == ("int_cam01_img",)
    assert cams.dist[0, 4].item() == 0.001


def _broken(field: str, value: str | None) -> str:
    lines = [ln for ln in _CAM.splitlines() if not ln.startswith(f"{field} =")]
    if value is not None:
        lines.append(f"{field} = {value}")
    return "\n".join(lines) + "\n" + _META


@pytest.mark.parametrize(
    "content, match",
    [
        ("[cam_01\nname = 1", "not a valid TOML"),
        (_broken("translation", None), r"\[cam_01\]: missing field\(s\) \['translation'\]"),
        (_broken("matrix", "[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]"),
         r"\[cam_01\]: matrix must have shape \(3, 3\), got \(2, 3\)"),
        (_broken("matrix", "[[1.0, 0.0], [0.0, 1.0, 1.0], [0, 0, 1]]"), r"\[cam_01\]: matrix must be"),
        (_broken("matrix", "[[1000.0, 0.0, 1.0], [0.0, 1000.0, 1.0], [0.0, 0.1, 1.0]]"),
         r"\[cam_01\]: matrix must be \[\["),
        (_broken("matrix", "[[-1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]"), r"focal lengths must be positive"),
        (_broken("translation", "[0.1, nan, 2.0]"), r"\[cam_01\]: translation holds NaN"),
        (_broken("rotation", "[0.1, 0.2]"), r"\[cam_01\]: rotation must have shape \(3,\)"),
        (_broken("rotation", '["a", "b", "c"]'), r"\[cam_01\]: rotation must be an array of numbers"),
        (_broken("rotation", "[true, 0.0, 0.0]"), r"\[cam_01\]: rotation must be an array of numbers"),
        (_broken("distortions", "[0.1, 0.2, 0.3]"), r"\[cam_01\]: distortions must be \[k1, k2, p1, p2\]"),
        (_broken("size", "[1088.0, -1.0]"), r"\[cam_01\]: size must be"),
        (_broken("fisheye", "true"), r"\[cam_01\]: fisheye = true: fisheye .* not supported"),
        (_broken("fisheye", '"no"'), r"\[cam_01\]: fisheye must be true or false"),
        (_broken("name", "3"), r"\[cam_01\]: name must be a non-empty string"),
        (_META, "no camera table"),
        ("version = 2\n" + _CAM, "top-level key 'version' is not a camera table"),
        (_CAM + _CAM.replace("[cam_01]", "[cam_02]"), r"duplicate camera names \['cam_01'\]"),
    ],
)
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "calib.toml"
    path.write_text(content)
    with pytest.raises(InputError, match=match) as info:
        read_calibration_toml(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_calibration_toml(tmp_path / "nope.toml")
    path = tmp_path / "calib.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not a valid TOML"):
        read_calibration_toml(path)


def _qca(R: np.ndarray, position_mm: np.ndarray, extra: str = "") -> str:
    """A one-camera Qualisys XML whose r_ij are diag(1, -1, -1) @ R (see read_calibration_qca)."""
    r = np.diag([1.0, -1.0, -1.0]) @ R
    rs = " ".join(f'r{i + 1}{j + 1}="{float(r[i, j])!r}"' for i in range(3) for j in range(3))
    x, y, z = (float(v) for v in position_mm)
    return f"""<?xml version='1.0' encoding='ASCII'?>
<calibration><cameras>
<camera serial="cam01">
  <fov_video bottom="1919" left="0" right="1087" top="0"/>
  <transform {rs} x="{x!r}" y="{y!r}" z="{z!r}"/>
  <intrinsic centerPointU="34110.5" centerPointV="60680.75" focalLengthU="107599.5" focalLengthV="107588.25"
   radialDistortion1="-0.046" radialDistortion2="0.14" radialDistortion3="0.0" tangentalDistortion1="0.0006"
   tangentalDistortion2="0.0007" {extra}/>
</camera>
</cameras></calibration>
"""


def test_qca_known_answer(tmp_path):
    R = cv2.Rodrigues(np.array([1.69, 1.05, -0.42]))[0]
    centre_m = np.array([1.46, -1.91, 1.90])
    path = tmp_path / "Calib.qca.txt"
    path.write_text(_qca(R, centre_m * 1000))
    cams = read_calibration_qca(path)
    assert cams.names == ("cam01",)
    np.testing.assert_allclose(cams.R[0].numpy(), R, atol=1e-12)
    np.testing.assert_allclose(cams.centers()[0].numpy(), centre_m, atol=1e-12)
    np.testing.assert_allclose(cams.K[0].numpy(), [[107599.5 / 64, 0, 34110.5 / 64], [0, 107588.25 / 64, 60680.75 / 64],
                                                   [0, 0, 1]])
    np.testing.assert_array_equal(cams.dist[0].numpy(), [-0.046, 0.14, 0.0006, 0.0007, 0.0])
    np.testing.assert_array_equal(cams.image_size[0].numpy(), [1088, 1920])


def test_qca_errors(tmp_path):
    path = tmp_path / "Calib.qca.txt"
    path.write_text("<calibration><cameras>")
    with pytest.raises(InputError, match="not a valid Qualisys XML"):
        read_calibration_qca(path)
    path.write_text("<calibration><cameras/></calibration>")
    with pytest.raises(InputError, match="no <camera>"):
        read_calibration_qca(path)
    path.write_text(_qca(np.eye(3), np.zeros(3)).replace('focalLengthU="107599.5"', ""))
    with pytest.raises(InputError, match="camera 'cam01': <intrinsic> lacks attribute 'focalLengthU'"):
        read_calibration_qca(path)
    path.write_text(_qca(2 * np.eye(3), np.zeros(3)))
    with pytest.raises(InputError, match="not a rotation matrix"):
        read_calibration_qca(path)
    with pytest.raises(InputError, match="not found"):
        read_calibration_qca(tmp_path / "nope.qca.txt")
