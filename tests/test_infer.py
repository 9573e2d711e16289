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


def test_short_2d_gaps_are_filled_before_lifting_unless_asked_not_to():
    kp = _walk(60)
    conf = kp.conf.copy()
    conf[20:23, 3] = 0.0  # one joint dropped for 0.1 s
    conf[40] = 0.0  # the person lost for one frame
    conf[5:50, 6] = 0.0  # a joint lost for 1.5 s: longer than the default
    gappy = Keypoints2D(kp.kp2d_px, conf, "h36m17", kp.fps, "gappy")
    filled = infer(gappy)
    assert (filled.conf[20:23, 3] > 0).all() and (np.delete(filled.conf[40], 6) > 0).all()
    np.testing.assert_allclose(filled.kp2d_px[20:23, 3], kp.kp2d_px[20:23, 3], atol=1.0)  # linear over 0.1 s
    assert (filled.conf[5:50, 6] == 0).all()
    assert filled.interpolated.tolist() == [t == 40 for t in range(60)]
    raw = infer(gappy, fill_gap_s=0.0)
    assert (raw.conf[20:23, 3] == 0).all() and not raw.interpolated.any()
    # The 3D differs only near the filled gaps (the 81-frame window of every frame sees the one at 40).
    assert np.abs(filled.pose3d_cam_m - raw.pose3d_cam_m).max() > 1e-4
    with pytest.raises(InputError, match="fill_gap_s"):
        infer(gappy, fill_gap_s=-1.0)


def test_infer_cli_fills_gaps_by_default_and_takes_fill_gaps(tmp_path):
    from lift3d.cli.main import main
    from lift3d.io.exports import read_result
    from lift3d.io.kp2d import write_kp2d_h5

    kp = _walk(90)
    conf = kp.conf.copy()
    conf[30:33, 4] = 0.0
    path = tmp_path / "kp2d.h5"
    write_kp2d_h5(path, Keypoints2D(kp.kp2d_px, conf, "h36m17", kp.fps, "gappy"))
    for extra, filled in (([], True), (["--fill-gaps", "0"], False), (["--fill-gaps", "0.05"], False)):
        out = tmp_path / f"out{len(extra)}{extra[-1] if extra else ''}.h5"
        assert main(["infer", str(path), "-o", str(out), "--model", "tcn", "--no-progress", *extra]) == 0
        assert bool((read_result(out).conf[30:33, 4] > 0).all()) == filled, extra


def _mirrored(kp: Keypoints2D, width: float = 1000.0) -> Keypoints2D:
    """``kp`` seen in a mirror: x reflected about the image's vertical centre line, left and right swapped."""
    from lift3d.skeletons import H36M17

    perm = list(H36M17.flip_permutation)
    xy = kp.kp2d_px[:, perm].copy()
    xy[..., 0] = width - xy[..., 0]
    return Keypoints2D(xy, kp.conf[:, perm], "h36m17", kp.fps, "mirrored")


def test_test_time_flip_makes_lifting_mirror_symmetric():
    from lift3d.codec import flip_pose3d

    kp = _walk(100)
    model, codec, ckpt = load_lifter()
    for flip in (False, True):
        pose = lift(kp, model, codec, ckpt["fps"], flip=flip)
        mirror = lift(_mirrored(kp), model, codec, ckpt["fps"], flip=flip)
        gap = np.abs(flip_pose3d(pose) - mirror).max()
        # With the flip, the mirrored clip lifts to exactly the mirrored 3D; the network alone is not symmetric.
        assert (gap < 1e-5) if flip else (gap > 1e-3), (flip, gap)
    assert np.abs(infer(kp, flip=True).pose3d_cam_m - lift(kp, model, codec, ckpt["fps"], flip=True)).max() < 1e-6
    assert np.abs(infer(kp).pose3d_cam_m - lift(kp, model, codec, ckpt["fps"])).max() < 1e-6  # off by default


def test_infer_cli_flip(tmp_path):
    from lift3d.cli.main import main
    from lift3d.io.exports import read_result
    from lift3d.io.kp2d import write_kp2d_h5

    kp = _walk(90)
    path = tmp_path / "kp2d.h5"
    write_kp2d_h5(path, kp)
    poses = {}
    for extra in ([], ["--flip"]):
        out = tmp_path / f"out{len(extra)}.h5"
        assert main(["infer", str(path), "-o", str(out), "--model", "tcn", "--no-progress", *extra]) == 0
        poses[bool(extra)] = read_result(out).pose3d_cam_m
    np.testing.assert_allclose(poses[False], infer(kp, flip=False).pose3d_cam_m, atol=1e-6)
    np.testing.assert_allclose(poses[True], infer(kp, flip=True).pose3d_cam_m, atol=1e-6)
    assert np.abs(poses[False] - poses[True]).max() > 1e-4


def test_smooth_per_frame_filters_jitter_and_keeps_steady_poses():
    from lift3d.infer import smooth_per_frame

    rng = np.random.default_rng(0)
    steady = np.tile(rng.normal(size=(1, 17, 3)), (50, 1, 1)).astype(np.float32)
    steady[:, 0] = 0.0  # the root
    jitter = steady + 0.01 * rng.normal(size=steady.shape).astype(np.float32)
    jitter[:, 0] = 0.0
    out = smooth_per_frame(jitter, 30.0, 2 / 30)
    assert out.shape == jitter.shape and out.dtype == np.float32 and (out[:, 0] == 0).all()
    np.testing.assert_allclose(smooth_per_frame(steady, 30.0, 2 / 30), steady, atol=1e-6)
    # A 2-frame Gaussian cuts white jitter's frame-to-frame motion several times over.
    assert np.abs(np.diff(out, axis=0)).mean() < 0.3 * np.abs(np.diff(jitter, axis=0)).mean()
    assert np.abs(out - steady).mean() < 0.5 * np.abs(jitter - steady).mean()
    # The same seconds at twice the frame rate: twice the frames of smoothing.
    np.testing.assert_allclose(smooth_per_frame(jitter, 60.0, 1 / 30), smooth_per_frame(jitter, 30.0, 2 / 30))
    assert smooth_per_frame(jitter, 30.0, 0.0) is jitter
    np.testing.assert_array_equal(smooth_per_frame(jitter[:1], 30.0, 1.0), jitter[:1])  # one frame: as it is


def test_rigid_bones_holds_each_bone_at_its_median_length_and_keeps_directions():
    from lift3d.errors import InputError
    from lift3d.infer import rigid_bones
    from lift3d.skeletons import H36M17

    rng = np.random.default_rng(1)
    base = rng.normal(size=(17, 3)) * 0.2
    base[0] = 0.0
    scale = rng.uniform(0.8, 1.25, size=21)  # a per-frame lifter whose depth scale drifts
    pose = (scale[:, None, None] * base).astype(np.float32)
    out = rigid_bones(pose)
    assert out.shape == pose.shape and out.dtype == np.float32 and (out[:, 0] == 0).all()
    # Same directions, lengths the median's: every frame is the median-scale pose.
    np.testing.assert_allclose(out, np.broadcast_to(np.median(scale) * base, pose.shape), atol=1e-6)
    children = [j for j, p in enumerate(H36M17.parents) if p >= 0]
    parents = [H36M17.parents[j] for j in children]

    def lengths(x):
        return np.linalg.norm(x[:, children] - x[:, parents], axis=-1)

    wobbly = pose + 0.02 * rng.normal(size=pose.shape).astype(np.float32)
    wobbly[:, 0] = 0.0
    held = rigid_bones(wobbly)
    assert lengths(held).std(axis=0).max() < 1e-5
    np.testing.assert_allclose(lengths(held)[0], np.median(lengths(wobbly), axis=0), rtol=1e-5)
    bones, held_bones = wobbly[:, children] - wobbly[:, parents], held[:, children] - held[:, parents]
    cos = (bones * held_bones).sum(-1) / (np.linalg.norm(bones, axis=-1) * np.linalg.norm(held_bones, axis=-1))
    assert cos.min() > 1 - 1e-5
    # A bone of zero length in one frame stays so: its child sits on its parent, nothing divides by 0.
    knee, ankle = H36M17.index("r_knee"), H36M17.index("r_ankle")
    wobbly[3, ankle] = wobbly[3, knee]
    held = rigid_bones(wobbly)
    assert np.isfinite(held).all() and np.allclose(held[3, ankle], held[3, knee])
    with pytest.raises(InputError, match="17, 3"):
        rigid_bones(pose[:, :16])
    assert rigid_bones(pose[:0]).shape == (0, 17, 3)
