import numpy as np
import pytest

from lift3d.data.virtual_cameras import VirtualCameraConfig, in_frame, look_at, project, sample_rig


def _walker(T=60):
    """A 1.7 m person (17 points in a vertical box) walking 3 m along +x."""
    rng = np.random.default_rng(0)
    body = rng.uniform([-0.2, -0.15, 0.0], [0.2, 0.15, 1.7], size=(17, 3))
    path = np.stack([np.linspace(0, 3, T), np.zeros(T), np.zeros(T)], axis=1)
    return body[None] + path[:, None]


def test_look_at_is_a_rotation_with_opencv_axes():
    center, target = np.array([4.0, 0.0, 1.5]), np.array([0.0, 0.0, 1.0])
    R, t = look_at(center, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    # The target is on the optical axis, in front; the camera centre maps to the origin.
    cam = R @ target + t
    assert cam[2] > 0 and abs(cam[0]) < 1e-12 and abs(cam[1]) < 1e-12
    np.testing.assert_allclose(R @ center + t, 0, atol=1e-12)
    # World up (+z) is image up (-y).
    assert (R @ np.array([0, 0, 1.0]))[1] < 0


def test_project_known_answer():
    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    px, depth = project(np.array([[0.5, -0.25, 5.0]]), K, np.eye(3), np.zeros(3))
    np.testing.assert_allclose(px, [[740.0, 310.0]])
    np.testing.assert_allclose(depth, [5.0])


@pytest.mark.parametrize("mode", ["spread", "uniform"])
def test_rig_keeps_subject_in_frame_and_in_range(mode):
    pose = _walker()
    cfg = VirtualCameraConfig(yaw_mode=mode)
    rig = sample_rig(pose, 4, cfg, np.random.default_rng(1))
    assert rig.K.shape == (4, 3, 3) and rig.R.shape == (4, 3, 3) and rig.t.shape == (4, 3)
    for v in range(4):
        px, depth = project(pose, rig.K[v], rig.R[v], rig.t[v])
        frac = in_frame(px, depth, rig.image_size[v]).mean()
        assert frac >= cfg.min_in_frame, f"view {v}: only {frac:.3f} of joints in frame"
        centre = -rig.R[v].T @ rig.t[v]
        assert cfg.height_m[0] - 1e-6 <= centre[2] <= cfg.height_m[1] + 1e-6
        w = rig.image_size[v][0]
        hfov = np.rad2deg(2 * np.arctan(w / 2 / rig.K[v, 0, 0]))
        assert cfg.hfov_deg[0] - 1e-6 <= hfov <= cfg.hfov_deg[1] + 1e-6


def test_spread_rig_surrounds_the_subject():
    pose = _walker()
    rig = sample_rig(pose, 4, VirtualCameraConfig(yaw_jitter_deg=0.0, aim_jitter_m=0.0), np.random.default_rng(2))
    centres = np.einsum("vji,vj->vi", rig.R, -rig.t)
    yaws = np.sort(np.degrees(np.arctan2(*(centres[:, :2] - pose[:, 0, :2].mean(0)).T[::-1])) % 360)
    gaps = np.diff(np.r_[yaws, yaws[0] + 360])
    np.testing.assert_allclose(gaps, 90.0, atol=1e-6)


def test_same_seed_same_rig():
    pose = _walker()
    a = sample_rig(pose, 3, VirtualCameraConfig(), np.random.default_rng(7))
    b = sample_rig(pose, 3, VirtualCameraConfig(), np.random.default_rng(7))
    np.testing.assert_array_equal(a.R, b.R)
    np.testing.assert_array_equal(a.K, b.K)
