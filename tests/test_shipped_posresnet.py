"""The shipped Pose-ResNet: it loads, lifts a held-out subject about as well as measured, and ``lift3d infer``
fuses it with the shipped temporal lifter by default."""

import numpy as np
import pytest
import torch

from lift3d.checkpoint import DEFAULT_LIFTER, DEFAULT_POSRESNET, checkpoint_id, load_lifter
from lift3d.cli.main import main
from lift3d.infer import FUSE_WEIGHT
from lift3d.io.exports import read_result
from lift3d.io.kp2d import Keypoints2D, write_kp2d_h5


@pytest.fixture(scope="module")
def held_out(shared_data, tmp_path_factory):
    """One view of a held-out test subject (CMU 131), noisy 2D, as a build-mocap file."""
    from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
    from lift3d.data.noise_2d import NoiseConfig

    path = tmp_path_factory.mktemp("posresnet") / "cmu131.h5"
    build_mocap_dataset(BuildMocapConfig(views=1, subjects=["cmu:131"], datasets=["cmu_mocap"],
                                         noise=NoiseConfig(level=0.2)), path, data_dir=shared_data, progress=False)
    return path


def test_shipped_posresnet_loads_and_is_small():
    assert DEFAULT_POSRESNET.stat().st_size < 20e6
    model, codec, ckpt = load_lifter(DEFAULT_POSRESNET)
    assert ckpt["kind"] == "posresnet" and not codec.image and ckpt["id"] == checkpoint_id(model.state_dict())
    size = model.config.input_size
    with torch.no_grad():
        out = model(torch.zeros(2, model.config.in_channels, size, size))
    assert out.shape == (2, 17, 3) and torch.isfinite(out).all()


def test_shipped_posresnet_on_a_held_out_subject(held_out):
    """Frame by frame on noisy, 30%-masked 2D of a subject never trained on: within the range the benchmark
    measured over the whole test set (BENCHMARKS.md ``posresnet_fusion``: 114 mm), and fusing the temporal
    lifter in at the shipped weight beats the Pose-ResNet alone."""
    from lift3d.evaluate import evaluate_file

    alone = evaluate_file(held_out, DEFAULT_POSRESNET, mask=0.3, frame_step=5)
    fused = evaluate_file(held_out, DEFAULT_POSRESNET, mask=0.3, frame_step=5, fuse_with="default",
                          fuse_weight=FUSE_WEIGHT)
    assert alone["frames"] > 100 and alone["mpjpe_mm"] < 150.0
    assert fused["mpjpe_mm"] < alone["mpjpe_mm"]


def test_infer_fuses_the_shipped_lifters_by_default(held_out, tmp_path, capsys):
    from lift3d.data.mocap_h5 import read_multiview_h5

    s = read_multiview_h5(held_out)[0]
    src = tmp_path / "kp.h5"
    write_kp2d_h5(src, Keypoints2D(s.kp2d_px[0][:60], s.conf[0][:60], "h36m17", 30.0, "x", (1920, 1080)))
    outs = {}
    for model in (None, "tcn", "posresnet"):
        out = tmp_path / f"{model}.h5"
        assert main(["infer", str(src), "-o", str(out), "--no-progress", *(["--model", model] if model else [])]) == 0
        outs[model] = read_result(out)
    ids = {m: checkpoint_id(load_lifter(p)[0].state_dict()) for m, p in (("tcn", DEFAULT_LIFTER),
                                                                         ("posresnet", DEFAULT_POSRESNET))}
    assert outs[None].checkpoint_id == f"{ids['posresnet']}+{ids['tcn']}"
    assert outs["tcn"].checkpoint_id == ids["tcn"] and outs["posresnet"].checkpoint_id == ids["posresnet"]
    np.testing.assert_allclose(outs[None].pose3d_cam_m, FUSE_WEIGHT * outs["tcn"].pose3d_cam_m
                               + (1 - FUSE_WEIGHT) * outs["posresnet"].pose3d_cam_m, atol=1e-5)


def test_smoothing_steadies_the_shipped_posresnet_on_a_held_out_subject(held_out):
    """The per-frame 3D smoothed over time as ``lift3d infer`` does: much less frame-to-frame jitter and no
    loss of accuracy on noisy 2D of a subject never trained on."""
    from lift3d.errors import InputError
    from lift3d.evaluate import evaluate_file
    from lift3d.infer import SMOOTH_S

    raw = evaluate_file(held_out, DEFAULT_POSRESNET)
    smooth = evaluate_file(held_out, DEFAULT_POSRESNET, smooth_s=SMOOTH_S)
    assert smooth["smooth_s"] == SMOOTH_S and smooth["frames"] == raw["frames"]
    assert smooth["mpjve_mm"] < 0.7 * raw["mpjve_mm"], (smooth["mpjve_mm"], raw["mpjve_mm"])
    assert smooth["mpjpe_mm"] < raw["mpjpe_mm"]
    with pytest.raises(InputError, match="every frame"):
        evaluate_file(held_out, DEFAULT_POSRESNET, smooth_s=SMOOTH_S, frame_step=5)


def test_infer_smooths_the_posresnet_by_default_and_takes_smooth(held_out, tmp_path):
    from lift3d.data.mocap_h5 import read_multiview_h5
    from lift3d.infer import SMOOTH_S, smooth_per_frame

    s = read_multiview_h5(held_out)[0]
    src = tmp_path / "kp.h5"
    write_kp2d_h5(src, Keypoints2D(s.kp2d_px[0][:60], s.conf[0][:60], "h36m17", 30.0, "x", (1920, 1080)))
    outs = {}
    for extra in ([], ["--smooth", "0"], ["--smooth", "0.2"]):
        out = tmp_path / f"out{len(extra)}{extra[-1] if extra else ''}.h5"
        assert main(["infer", str(src), "-o", str(out), "--no-progress", "--model", "posresnet", "--no-rigid",
                     *extra]) == 0
        outs[extra[-1] if extra else None] = read_result(out).pose3d_cam_m
    np.testing.assert_allclose(outs[None], smooth_per_frame(outs["0"], 30.0, SMOOTH_S), atol=1e-6)
    np.testing.assert_allclose(outs["0.2"], smooth_per_frame(outs["0"], 30.0, 0.2), atol=1e-6)
    assert np.abs(outs[None] - outs["0"]).max() > 1e-3
    assert main(["infer", str(src), "-o", str(tmp_path / "bad.h5"), "--model", "posresnet", "--smooth", "-1"]) != 0


def test_rigid_bones_make_the_shipped_posresnet_more_accurate_on_a_held_out_subject(held_out):
    """Bones held at their median length (as ``lift3d infer`` does): the Pose-ResNet's drifting depth scale is
    steadied, alone and in the fusion at the shipped weight, on noisy 2D of a subject never trained on
    (val split: about 10% and 3% lower MPJPE, BENCHMARKS.md ``posresnet_rigid``; this subject, every 3rd frame:
    103.0 to 100.6 mm alone, 93.2 to 92.8 fused at share 0.6)."""
    from lift3d.evaluate import evaluate_file

    res = {}
    for fused in (False, True):
        for rigid in (False, True):
            res[fused, rigid] = evaluate_file(held_out, DEFAULT_POSRESNET, frame_step=3, rigid=rigid,
                                              fuse_with="default" if fused else None, fuse_weight=FUSE_WEIGHT)
            assert res[fused, rigid]["rigid"] == rigid
    assert res[False, True]["mpjpe_mm"] < res[False, False]["mpjpe_mm"], res
    assert res[True, True]["mpjpe_mm"] < res[True, False]["mpjpe_mm"], res


def test_infer_holds_the_posresnets_bones_by_default_and_takes_no_rigid(held_out, tmp_path, capsys):
    import json

    from lift3d.data.mocap_h5 import read_multiview_h5
    from lift3d.infer import rigid_bones
    from lift3d.plausibility import bone_length_std

    s = read_multiview_h5(held_out)[0]
    src = tmp_path / "kp.h5"
    write_kp2d_h5(src, Keypoints2D(s.kp2d_px[0][:60], s.conf[0][:60], "h36m17", 30.0, "x", (1920, 1080)))
    outs = {}
    for extra in ([], ["--no-rigid"], ["--rigid"]):
        out = tmp_path / f"out{len(extra)}{extra[-1] if extra else ''}.h5"
        assert main(["infer", str(src), "-o", str(out), "--no-progress", "--model", "posresnet", *extra]) == 0
        outs[extra[-1] if extra else None] = read_result(out).pose3d_cam_m
    np.testing.assert_allclose(outs[None], outs["--rigid"])
    np.testing.assert_allclose(outs[None], rigid_bones(outs["--no-rigid"]), atol=1e-6)
    assert bone_length_std(outs[None]).max() < 1e-5 < bone_length_std(outs["--no-rigid"]).max()
    capsys.readouterr()
    assert main(["evaluate", "--data", str(held_out), "--checkpoint", str(DEFAULT_POSRESNET), "--frame-step", "20",
                 "--rigid", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rigid"] is True
