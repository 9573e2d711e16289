import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.infer import infer, lift, resample
from lift3d.checkpoint import load_lifter
from lift3d.io.kp2d import Keypoints2D


def test_resample_is_exact_on_linear_signals_and_keeps_the_count():
    t = np.arange(100, dtype=np.float64)
    x = np.stack([3 * t + 1, -t], axis=1)  # (T, 2) linear in time
    half = resample(x, 60.0, 30.0)
    assert half.shape == (50, 2)
    np.testing.assert_allclose(half, x[::2])
    back = resample(half, 30.0, 60.0, num_out=100)
    np.testing.assert_allclose(back[:99], x[:99])  # the last frame lies past the 30 fps grid: held
    assert back.shape == (100, 2)


def _walk(T=120, fps=30.0):
    """A synthetic H36M-17 2D sequence (a figure swaying), in pixels."""
    rng = np.random.default_rng(0)
    base = rng.uniform(-100, 100, size=(17, 2)) + 500
    t = np.arange(T) / fps
    kp = base[None] + 20 * np.sin(2 * np.pi * 0.5 * t)[:, None, None]
    return Keypoints2D(kp, np.ones((T, 17)), "h36m17", fps, "synthetic")


def test_lifting_at_another_frame_rate_keeps_one_pose_per_frame():
    model, codec, ckpt = load_lifter()
    at30 = lift(_walk(120, 30.0), model, codec, ckpt["fps"])
    kp60 = _walk(240, 60.0)
    at60 = lift(kp60, model, codec, ckpt["fps"])
    assert at30.shape == (120, 17, 3) and at60.shape == (240, 17, 3)
    assert np.isfinite(at60).all()
    # The same motion at twice the rate lifts to about the same poses at the shared instants.
    assert np.abs(at60[::2][:119] - at30[:119]).max() < 0.05


def test_no_person_and_empty_input_are_errors():
    kp = _walk(10)
    with pytest.raises(InputError, match="no keypoint"):
        infer(Keypoints2D(kp.kp2d_px, np.zeros((10, 17)), "h36m17", 30.0, "empty.h5"))
    with pytest.raises(InputError, match="no frames"):
        infer(Keypoints2D(np.zeros((0, 17, 2)), np.zeros((0, 17)), "h36m17", 30.0, "none.h5"))


def test_keypoints_validation_names_the_problem():
    with pytest.raises(InputError, match="NaN"):
        Keypoints2D(np.full((2, 17, 2), np.nan), np.ones((2, 17)), "h36m17", 30.0, "x.npz")
    with pytest.raises(InputError, match=r"confidences must be \(2, 17\)"):
        Keypoints2D(np.zeros((2, 17, 2)), np.ones((2, 16)), "h36m17", 30.0)
    with pytest.raises(InputError, match="has 33 joints"):
        Keypoints2D(np.zeros((2, 17, 2)), np.ones((2, 17)), "blazepose33", 30.0)
