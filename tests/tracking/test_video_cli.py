"""``lift3d track / infer / render`` end to end, and every bad input the video issue names."""

import cv2
import h5py
import numpy as np
import pytest

from lift3d.cli.main import main
from lift3d.errors import InputError
from lift3d.io.exports import read_result
from lift3d.io.video import probe_video


def _write_video(path, frames, fps=30.0, size=(320, 240)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(frames):
        writer.write(np.full((size[1], size[0], 3), 128, np.uint8))
    writer.release()
    return path


def _run(args, capsys):
    code = main(args)
    return code, capsys.readouterr().err


def test_probe_counts_frames_or_reads_the_header(tmp_path):
    video = _write_video(tmp_path / "v.mp4", 12, fps=25.0)
    counted, header = probe_video(video), probe_video(video, count=False)
    assert (counted.num_frames, counted.fps, counted.image_size) == (12, 25.0, (320, 240))
    assert (header.fps, header.image_size) == (25.0, (320, 240)) and header.num_frames in (0, 12)
    empty = _write_video(tmp_path / "empty.mp4", 0)
    try:
        probe_video(empty, count=False)  # may open (nothing counted) or not, as OpenCV's backend decides
    except InputError as e:
        assert "empty.mp4" in str(e)
    with pytest.raises(InputError, match="no frames|cannot open"):
        probe_video(empty)


def test_missing_file_not_a_video_and_missing_output_dir(tmp_path, capsys):
    out = tmp_path / "out.h5"
    code, err = _run(["infer", str(tmp_path / "missing.mp4"), "-o", str(out)], capsys)
    assert code == 2 and "missing.mp4" in err and "not found" in err
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video")
    code, err = _run(["infer", str(fake), "-o", str(out)], capsys)
    assert code == 2 and "fake.mp4" in err and "cannot open as a video" in err
    code, err = _run(["track", str(fake), "-o", str(tmp_path / "nodir" / "k.h5")], capsys)
    assert code == 2 and "output directory does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4"]


def test_zero_frames_and_no_person(tmp_path, capsys, mediapipe_available):
    empty = _write_video(tmp_path / "empty.mp4", 0)
    grey = _write_video(tmp_path / "grey.mp4", 20)
    for video, message in ((empty, "no frames"), (grey, "no person")):
        code, err = _run(["infer", str(video), "-o", str(tmp_path / "out.h5"), "--no-progress"], capsys)
        assert code == 2 and video.name in err and (message in err or "cannot open" in err), err
    assert not (tmp_path / "out.h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary left behind


def test_track_infer_and_render_a_real_video(tmp_path, capsys, shared_data, mediapipe_available):
    video = shared_data / "pose2sim_demo" / "single_balancing" / "videos" / "cam02.mp4"
    kp_path, out = tmp_path / "kp2d.h5", tmp_path / "cam02.npz"
    assert main(["track", str(video), "-o", str(kp_path), "--no-progress"]) == 0
    with h5py.File(kp_path) as f:
        assert f["kp2d_px"].shape == (100, 17, 2) and f["blazepose33/conf"].shape == (100, 33)
        assert f.attrs["fps"] == 60.0
    assert main(["infer", str(kp_path), "-o", str(out), "--no-progress"]) == 0  # 2D file in, 3D out
    from_2d = read_result(out)
    assert main(["infer", str(video), "-o", str(tmp_path / "direct.h5"), "--no-progress"]) == 0
    direct = read_result(tmp_path / "direct.h5")
    np.testing.assert_allclose(from_2d.pose3d_cam_m, direct.pose3d_cam_m, atol=1e-6)
    assert direct.source == str(video)

    png = tmp_path / "f10.png"
    assert main(["render", str(tmp_path / "direct.h5"), "--frame", "10", "-o", str(png)]) == 0
    img = cv2.imread(str(png))
    info = probe_video(video)
    assert img.shape == (info.height, info.width + info.height, 3)
    mp4 = tmp_path / "side.mp4"
    assert main(["render", str(tmp_path / "direct.h5"), "-o", str(mp4), "--no-progress"]) == 0
    rendered = probe_video(mp4)
    assert (rendered.num_frames, rendered.fps) == (info.num_frames, info.fps)
    code, err = _run(["render", str(tmp_path / "direct.h5"), "--frame", "500", "-o", str(tmp_path / "x.png")], capsys)
    assert code == 2 and "out of range" in err
