"""The tracker and lifter on the real videos of ../shared/data (sports2d demo, the four Pose2Sim views)."""

import numpy as np
import pytest

from lift3d.io.openpose import read_openpose_folder
from lift3d.io.video import probe_video
from lift3d.skeletons import H36M17, to_h36m

NAMES = ["sports2d", "cam01", "cam02", "cam03", "cam04"]
J = H36M17.index


@pytest.mark.parametrize("name", NAMES)
def test_frame_count_fps_and_finite_3d(tracked, name):
    video, kp, result = tracked[name]
    info = probe_video(video)
    assert result.num_frames == kp.num_frames == info.num_frames
    assert result.fps == kp.fps == info.fps
    assert np.isfinite(result.pose3d_cam_m).all()
    assert (result.pose3d_cam_m[:, H36M17.root] == 0).all()
    assert (result.conf > 0).any(axis=1).mean() > 0.9  # the person is found in almost every frame


@pytest.mark.parametrize("lifter", ["tcn", "fused"])
@pytest.mark.parametrize("name", NAMES)
def test_bone_lengths_plausible_and_steady(tracked, tracked_fused, name, lifter):
    """The temporal lifter alone (``infer``'s default in Python, ``--model tcn``) and ``lift3d infer``'s default,
    the fused pair (whose Pose-ResNet half has its bones held rigid; the temporal half's still vary)."""
    p = tracked[name][2].pose3d_cam_m if lifter == "tcn" else tracked_fused[name].pose3d_cam_m
    # Thighs, as the video issue names them. Shins and upper arms vary more over a clip with the temporal
    # lifter (no bone-length constancy in it); BENCHMARKS.md ("video_bones") records them.
    for a, b, low, high in (("r_hip", "r_knee", 0.3, 0.6), ("l_hip", "l_knee", 0.3, 0.6)):
        length = np.linalg.norm(p[:, J(a)] - p[:, J(b)], axis=-1)  # (T,)
        assert low < np.median(length) < high, (a, b, np.median(length))
        assert length.std() / length.mean() < 0.1, (a, b, length.std(), length.mean())


@pytest.mark.parametrize("name", NAMES)
def test_left_and_right_not_swapped_in_3d(tracked, name):
    """The 3D's left-right direction agrees with the 2D's: hips and shoulders, on frames where they are clear."""
    _, _, result = tracked[name]
    agree = []
    for left, right in (("l_hip", "r_hip"), ("l_shoulder", "r_shoulder")):
        d2 = result.kp2d_px[:, J(left), 0] - result.kp2d_px[:, J(right), 0]  # image x
        d3 = result.pose3d_cam_m[:, J(left), 0] - result.pose3d_cam_m[:, J(right), 0]  # camera x
        clear = (np.abs(d2) > 15) & (result.conf[:, [J(left), J(right)]] > 0.5).all(axis=1)
        agree.append(np.sign(d2[clear]) == np.sign(d3[clear]))
    agree = np.concatenate(agree)
    assert agree.size > 20 and agree.mean() > 0.9, (agree.size, agree.mean())


@pytest.mark.parametrize("cam", ["cam01", "cam02", "cam03", "cam04"])
def test_tracker_agrees_with_pose2sim_body25b(tracked, shared_data, cam):
    """Median pixel distance to OpenPose BODY_25B on the shared body joints, and sides not swapped."""
    _, kp, _ = tracked[cam]
    ref = read_openpose_folder(shared_data / "pose2sim_demo" / "single_balancing" / "pose_2d" / f"{cam}_json")
    ours, our_conf = to_h36m(kp.kp2d_px, kp.conf, "blazepose33")
    theirs, their_conf = to_h36m(ref.kp2d_px, ref.conf, ref.skeleton)
    shared = ["l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
              "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist"]
    idx = [J(n) for n in shared]
    ok = (our_conf[:, idx] > 0.5) & (their_conf[:, idx] > 0.3)
    dist = np.linalg.norm(ours[:, idx] - theirs[:, idx], axis=-1)[ok]
    swapped = np.linalg.norm(ours[:, idx] - theirs[:, [J(n.replace("l_", "x_").replace("r_", "l_").replace("x_", "r_"))
                                                        for n in shared]], axis=-1)[ok]
    height = np.median(np.ptp(theirs[:, :, 1], axis=1))
    print(f"{cam}: median {np.median(dist):.1f} px over {dist.size} joint-frames (person {height:.0f} px tall)")
    assert np.median(dist) < 0.05 * height
    assert np.median(swapped) > 2 * np.median(dist)


def test_tracking_decoded_frames_matches_tracking_the_video(tracked):
    """``track_frames`` (the tracker on frames already decoded: what ``bench_video`` times) is ``track_video``."""
    from lift3d.io.video import iter_frames
    from lift3d.tracking.blazepose import track_frames

    video, kp, _ = tracked["cam01"]
    info = probe_video(video)
    again = track_frames(list(iter_frames(video)), info.fps, info.image_size, source=video, progress=False)
    assert again.source == kp.source and again.image_size == kp.image_size and again.fps == kp.fps
    np.testing.assert_array_equal(again.conf, kp.conf)
    np.testing.assert_allclose(again.kp2d_px, kp.kp2d_px, atol=1e-3)
    np.testing.assert_array_equal(again.interpolated, kp.interpolated)


def test_tracking_no_frames_is_an_error(mediapipe_available):
    from lift3d.errors import InputError
    from lift3d.tracking.blazepose import track_frames

    with pytest.raises(InputError, match="no frames"):
        track_frames([], 30.0, (640, 480), source="empty.mp4", progress=False)
