"""The Pose-ResNet training loop on real takes: it learns, resumes exactly, and its checkpoint rebuilds the model."""

from pathlib import Path

import numpy as np
import pytest
import torch

from lift3d.checkpoint import load_lifter, read_checkpoint
from lift3d.config import load_config
from lift3d.errors import ConfigError, InputError
from lift3d.models.crop_codec import HeatmapCodec
from lift3d.paths import REPO_ROOT
from lift3d.train.data import DataConfig, load_split, render_views, take_rng_stream
from lift3d.train.volumetric import VolumetricTrainConfig, batch_inputs, render_frames, train_volumetric

CONFIG = REPO_ROOT / "configs/posresnet_heatmap64.yaml"
TINY = [
    "data.datasets=[cmu_mocap]", "data.frames_per_epoch=256", "data.views_per_epoch=1", "data.val_views=1",
    "val_frame_step=40", "model.width=8", "model.wasp_channels=16", "model.deconv_channels=16",
    "model.deconv_layers=2", "model.depth_bins=8", "optim.batch_size=32", "optim.lr=0.003", "threads=1",
]


def _cfg(tmp: Path, name: str, epochs: int, extra=()) -> VolumetricTrainConfig:
    return load_config(VolumetricTrainConfig, CONFIG,
                       [f"name={name}", f"out_dir={tmp}/{{name}}", f"optim.epochs={epochs}", *TINY, *extra])


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vruns")
    full = train_volumetric(_cfg(tmp, "full", 3), data_dir=shared_data, progress=False)
    train_volumetric(_cfg(tmp, "resumed", 2), data_dir=shared_data, progress=False)  # killed after epoch 2
    resumed = train_volumetric(_cfg(tmp, "resumed", 3), data_dir=shared_data, progress=False)
    return tmp, full, resumed


def test_resume_continues_exactly(runs):
    tmp, full, resumed = runs
    a, b = read_checkpoint(tmp / "full" / "last.pt"), read_checkpoint(tmp / "resumed" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), f"{k} differs after resume"
    assert full["val_mpjpe_mm"] == resumed["val_mpjpe_mm"]


def test_it_learns(runs):
    tmp, _, _ = runs
    hist = read_checkpoint(tmp / "full" / "last.pt")["train_state"]["history"]
    assert hist[-1]["train"]["uv"] < hist[0]["train"]["uv"], hist


def test_checkpoint_rebuilds_model_and_codec(runs):
    tmp, _, _ = runs
    model, codec, ckpt = load_lifter(tmp / "full" / "best.pt")
    assert ckpt["kind"] == "posresnet" and isinstance(codec, HeatmapCodec) and not model.training
    # The fitted person-size prior: a 2 m square at margin 1.25 is the right order for a person's box.
    assert 1.0 < codec.root_size_m < 3.5, codec
    assert model(torch.zeros(2, 17, 64, 64)).shape == (2, 17, 3)


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="in_channels"):
        _cfg(tmp_path, "x", 1, ["model.in_channels=3"])
    with pytest.raises(ConfigError, match="unknown"):
        _cfg(tmp_path, "x", 1, ["heatmaps.sigma=3"])


def test_targets_decode_to_the_true_pose_and_flip_mirrors(shared_data):
    """Targets from real takes decode back to the root-relative truth given the true root depth, and a flipped
    sample is the mirror image of the unflipped one (input heatmaps and targets)."""
    cfg = DataConfig(datasets=["cmu_mocap"])
    clip = load_split(cfg, "val", shared_data)[0]
    frames = render_frames(render_views(clip, cfg, take_rng_stream(0, 0, "t"), 1, noise_level=0.0, mask=0.0), 7)
    f = frames.take(torch.arange(min(16, len(frames))))
    codec = HeatmapCodec()
    heat, uvz, K_crop = batch_inputs(f, codec)
    from lift3d.models.crop_codec import decode_root_relative

    truth = f.pose3d_cam_m.double() - f.pose3d_cam_m[:, :1].double()
    back = decode_root_relative(uvz.double(), K_crop.double(), 64, f.pose3d_cam_m[:, 0, 2].double(), 2.0)
    assert torch.allclose(back, truth, atol=1e-4)
    # Exact 2D: each joint's heatmap peaks at the pixel nearest its target (u, v).
    peak = heat.flatten(-2).argmax(-1)  # (B, J)
    px = ((uvz[..., :2] + 1) * 64 - 1) / 2  # (B, J, 2) heatmap pixels
    inside = (px > 0).all(-1) & (px < 63).all(-1)
    assert torch.equal(peak[inside], (px[..., 1].round() * 64 + px[..., 0].round()).long()[inside])
    flip = torch.ones(len(f.conf), dtype=torch.bool)
    heat_f, uvz_f, _ = batch_inputs(f, codec, flip)
    from lift3d.skeletons import H36M17

    perm = list(H36M17.flip_permutation)
    assert torch.allclose(heat_f, heat[:, perm].flip(-1), atol=1e-5)
    assert torch.allclose(uvz_f, uvz[:, perm] * torch.tensor([-1.0, 1.0, 1.0]))
    assert np.isfinite(heat.numpy()).all()


def test_evaluate_and_infer_take_a_posresnet_checkpoint(runs, shared_data, tmp_path):
    """The trained checkpoint goes through ``lift3d evaluate`` (per frame, the file's intrinsics) and ``infer``."""
    from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
    from lift3d.data.noise_2d import NoiseConfig
    from lift3d.evaluate import evaluate_file
    from lift3d.infer import infer, lift_volumetric
    from lift3d.io.kp2d import Keypoints2D

    runs_dir, _, _ = runs
    ckpt = runs_dir / "full" / "best.pt"
    data = tmp_path / "t.h5"
    build_mocap_dataset(BuildMocapConfig(views=1, subjects=["cmu:131"], datasets=["cmu_mocap"],
                                         noise=NoiseConfig(level=0.2)), data, data_dir=shared_data, progress=False)
    res = evaluate_file(data, ckpt, input_2d="noisy", mask=0.3)
    assert res["frames"] > 0 and np.isfinite(res["mpjpe_mm"]) and res["mpjpe_mm"] > 0
    model, codec, _ = load_lifter(ckpt)
    from lift3d.data.mocap_h5 import read_multiview_h5

    s = read_multiview_h5(data)[0]
    kp, conf = s.kp2d_px[0][:30].copy(), s.conf[0][:30].copy()
    conf[10] = 0.0  # a frame without a person: it takes its nearest neighbour's pose
    pose = lift_volumetric(kp, conf, s.cameras["K"][0], model, codec)
    assert pose.shape == (30, 17, 3) and np.isfinite(pose).all()
    assert np.array_equal(pose[10], pose[9]) and np.abs(pose[:, 0]).max() < 1e-6
    out = infer(Keypoints2D(kp, conf, "h36m17", 30.0, "x", (1920, 1080)), ckpt)
    assert out.pose3d_cam_m.shape == (30, 17, 3)
    with pytest.raises(InputError, match="two confident joints"):
        lift_volumetric(kp, np.zeros_like(conf), s.cameras["K"][0], model, codec)


def test_fusion_and_frame_step(runs, shared_data, tmp_path, monkeypatch):
    """Fusion is the stated average (weights 0 and 1 give each lifter alone), ``frame_step`` scores every n-th
    frame, and the CLI's ``--model posresnet`` / ``--fuse`` refuse what they cannot do."""
    from lift3d.checkpoint import DEFAULT_LIFTER
    from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset
    from lift3d.data.mocap_h5 import read_multiview_h5
    from lift3d.data.noise_2d import NoiseConfig
    from lift3d.evaluate import evaluate_file, predict_views
    from lift3d.infer import infer
    from lift3d.iso import IsoConfig
    from lift3d.io.kp2d import Keypoints2D, write_kp2d_h5
    from lift3d.metrics import evaluate_sequences
    from lift3d.cli.main import main

    ckpt = runs[0] / "full" / "best.pt"
    data = tmp_path / "t.h5"
    build_mocap_dataset(BuildMocapConfig(views=1, subjects=["cmu:131"], datasets=["cmu_mocap"],
                                         noise=NoiseConfig(level=0.2)), data, data_dir=shared_data, progress=False)
    scored = sum(len(range(0, s.num_frames, 7)) * s.num_views for s in read_multiview_h5(data))
    vol = evaluate_file(data, ckpt, frame_step=7)
    tcn = evaluate_file(data, None, frame_step=7)
    assert vol["frames"] == tcn["frames"] == scored and vol["mpjve_mm"] is None
    for w, alone in ((0.0, vol), (1.0, tcn)):
        res = evaluate_file(data, ckpt, fuse_with="default", fuse_weight=w, frame_step=7)
        assert res["mpjpe_mm"] == pytest.approx(alone["mpjpe_mm"], rel=1e-5)
    half = evaluate_file(data, ckpt, fuse_with="default", fuse_weight=0.5, frame_step=7, mask=0.3)
    assert half["fused_with"] == "default" and half["mpjpe_mm"] not in (vol["mpjpe_mm"], tcn["mpjpe_mm"])
    # predict_views masks the same joints for both lifters, so their predictions mix into the fused result
    vol_pairs, names, _ = predict_views(data, ckpt, frame_step=7, mask=0.3)
    tcn_pairs, _, _ = predict_views(data, None, frame_step=7, mask=0.3)
    assert len(names) == len(vol_pairs) == len(tcn_pairs) and names[0]["view"] == 0
    mixed = [(0.5 * t + 0.5 * v, target) for (t, target), (v, _) in zip(tcn_pairs, vol_pairs)]
    assert evaluate_sequences(mixed)["mpjpe_mm"] == pytest.approx(half["mpjpe_mm"], rel=1e-5)
    with pytest.raises(InputError, match="fusion"):
        evaluate_file(data, DEFAULT_LIFTER, fuse_with="default")

    s = read_multiview_h5(data)[0]
    kp = Keypoints2D(s.kp2d_px[0][:40], s.conf[0][:40], "h36m17", 30.0, "x", (1920, 1080))
    a, b = infer(kp, ckpt), infer(kp, None)
    fused = infer(kp, ckpt, fuse_with="default", fuse_weight=0.25)
    np.testing.assert_allclose(fused.pose3d_cam_m, 0.25 * b.pose3d_cam_m + 0.75 * a.pose3d_cam_m, atol=1e-6)
    assert fused.checkpoint_id == f"{a.checkpoint_id}+{b.checkpoint_id}"
    with pytest.raises(InputError, match="already temporal"):
        infer(kp, None, fuse_with="default")
    with pytest.raises(InputError, match="fusion weight"):
        infer(kp, ckpt, fuse_with="default", fuse_weight=1.5)
    with pytest.raises(InputError, match="temporal lifter"):
        infer(kp, ckpt, fuse_with=ckpt)
    # test-time fine-tuning works on the fused temporal lifter, and refuses a Pose-ResNet alone
    tuning = IsoConfig(tune_steps=3, iterations=2)
    tuned = infer(kp, ckpt, fuse_with="default", fuse_weight=0.25, iso=tuning)
    assert tuned.checkpoint_id == f"{a.checkpoint_id}+{b.checkpoint_id}+tuned" and tuned.root_cam_m is not None
    with pytest.raises(InputError, match="fine-tuning"):
        infer(kp, ckpt, iso=tuning)

    src = tmp_path / "kp.h5"
    write_kp2d_h5(src, kp)
    assert main(["infer", str(src), "-o", str(tmp_path / "o.h5"), "--checkpoint", str(ckpt), "--fuse"]) == 0
    monkeypatch.setattr("lift3d.checkpoint.DEFAULT_POSRESNET", tmp_path / "missing.pt")
    assert main(["infer", str(src), "-o", str(tmp_path / "p.h5"), "--model", "posresnet"]) == 2
    assert not (tmp_path / "p.h5").exists()
