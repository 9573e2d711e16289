"""Self-supervised Pose-ResNet training: runs on 2D and epipolar labels alone, resumes, learns, checks configs."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lift3d.checkpoint import load_lifter, save_checkpoint
from lift3d.cli.main import main
from lift3d.codec import Pose2DCodec
from lift3d.config import load_config
from lift3d.errors import ConfigError, InputError
from lift3d.evaluate import evaluate_file
from lift3d.infer import infer
from lift3d.io.exports import read_result
from lift3d.io.kp2d import read_keypoints, write_kp2d_h5
from lift3d.models.crop_codec import HeatmapCodec
from lift3d.models.tcn import TCN, TCNConfig
from lift3d.paths import REPO_ROOT
from lift3d.train.selfsup_volumetric import VolumetricSelfSupConfig, _init, _masked, train_selfsup_volumetric

CONFIG = REPO_ROOT / "configs/posresnet_selfsup.yaml"
TINY = ['init_checkpoint=""', "model.width=8", "model.wasp_channels=16", "model.deconv_channels=16",
        "model.deconv_layers=2", "model.depth_bins=8", "data.windows_per_epoch=96", "optim.batch_size=32", "threads=1"]


def _cfg(tmp_path, labels, *extra) -> VolumetricSelfSupConfig:
    return load_config(VolumetricSelfSupConfig, CONFIG, [f"data.labels=[{labels}]", f"data.val_labels={labels}",
                                                         f"out_dir={tmp_path}/run", *TINY, *extra])


def test_trains_from_labels_resumes_and_loads_as_a_lifter(tmp_path, labels_without_ground_truth):
    first = train_selfsup_volumetric(_cfg(tmp_path, labels_without_ground_truth, "optim.epochs=1"), progress=False)
    assert set(first["train"]) == {"label", "reprojection", "consistency", "bone_symmetry"}
    assert all(np.isfinite(v) for v in first["train"].values()) and np.isfinite(first["label_mpjpe_mm"])
    second = train_selfsup_volumetric(_cfg(tmp_path, labels_without_ground_truth, "optim.epochs=2"), progress=False)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert second["epoch"] == 2 and hist[0] == json.loads(json.dumps(first))
    model, codec, ckpt = load_lifter(tmp_path / "run" / "last.pt")
    assert ckpt["kind"] == "posresnet" and ckpt["config"]["kind"] == "selfsup_posresnet"
    # From scratch, the root-size prior is fitted on the calibrated labels' root depths: a person-sized square.
    assert isinstance(codec, HeatmapCodec) and 1.0 < codec.root_size_m < 3.5, codec


def test_training_lowers_the_label_error(tmp_path, labels_without_ground_truth):
    cfg = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=4", "data.windows_per_epoch=384", "optim.lr=0.003")
    train_selfsup_volumetric(cfg, progress=False)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert hist[-1]["label_mpjpe_mm"] < 0.8 * hist[0]["label_mpjpe_mm"], [h["label_mpjpe_mm"] for h in hist]


def test_fine_tunes_from_a_posresnet_checkpoint(tmp_path, labels_without_ground_truth):
    first = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=1")
    train_selfsup_volumetric(first, progress=False)
    init = tmp_path / "run" / "last.pt"
    _, codec0, _ = load_lifter(init)
    tuned = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=1", f"init_checkpoint={init}",
                 f"out_dir={tmp_path}/tuned")
    model, codec = _init(tuned, [])
    start = load_lifter(init)[0].state_dict()
    assert codec == codec0 and all(torch.equal(start[k], v) for k, v in model.state_dict().items())


def test_config_errors(tmp_path, labels_without_ground_truth):
    other = tmp_path / "tcn.pt"
    save_checkpoint(other, TCN(TCNConfig(receptive_field=27, strides=(1,), channels=16)), kind="tcn",
                    codec=Pose2DCodec(), fps=30.0)
    with pytest.raises(ConfigError, match="architecture"):
        _init(_cfg(tmp_path, labels_without_ground_truth, f"init_checkpoint={other}"), [])
    with pytest.raises(ConfigError, match="data.frames"):
        _cfg(tmp_path, labels_without_ground_truth, "data.frames=9")
    with pytest.raises(ConfigError, match="calibrated labels"):
        _init(_cfg(tmp_path, labels_without_ground_truth), [SimpleNamespace(calibrated=False)])
    with pytest.raises(ConfigError, match="data.labels"):
        train_selfsup_volumetric(load_config(VolumetricSelfSupConfig, CONFIG, TINY), progress=False)
    with pytest.raises(ConfigError, match="kind"):
        load_config(VolumetricSelfSupConfig, CONFIG, ["kind=selfsup"])


def test_masking_keeps_a_crop_box():
    rng = np.random.default_rng(0)
    conf = torch.ones(500, 17)
    conf[:100, 2:] = 0  # two confident joints only: masking any of them would leave no box
    out = _masked(conf, SimpleNamespace(mask_prob=1.0, mask_max=0.9), rng)
    assert HeatmapCodec.croppable(out).all()
    assert torch.equal(out[:100], conf[:100])
    dropped = (out[100:] == 0).float().mean()
    assert 0.3 < dropped < 0.6, dropped  # uniform fraction up to 0.9: about 0.45 on average


def test_cli_dispatches_on_kind(tmp_path, labels_without_ground_truth, capsys):
    args = ["train", str(CONFIG), f"data.labels=[{labels_without_ground_truth}]", f"out_dir={tmp_path}/cli",
            "optim.epochs=1", *TINY, "--no-progress"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epoch"] == 1
    assert load_lifter(tmp_path / "cli" / "best.pt")[2]["config"]["kind"] == "selfsup_posresnet"


# --- image crops: fine-tuning a heatmap model on real multi-view video -------------------------------------

IMAGE = [f"model.in_channels={17 + 3}", "inputs.image=true"]


def test_image_fine_tune_widens_a_heatmap_model_and_lifts_the_video(tmp_path, pose2sim_video_labels):
    labels, files = pose2sim_video_labels
    heat = _cfg(tmp_path, labels, "optim.epochs=1", f"out_dir={tmp_path}/heat")
    train_selfsup_volumetric(heat, progress=False)
    init = tmp_path / "heat" / "last.pt"
    hybrid = _cfg(tmp_path, labels, "optim.epochs=2", f"init_checkpoint={init}", f"out_dir={tmp_path}/img", *IMAGE)

    # Widened with zero image weights: the same function of the heatmaps, whatever the image.
    model, codec = _init(hybrid, [])
    base, base_codec, _ = load_lifter(init)
    assert codec.image and codec.heatmaps and codec.root_size_m == base_codec.root_size_m
    model.eval()
    heatmaps = torch.rand(3, 17, 64, 64)
    with torch.no_grad():
        want = base(heatmaps)
        for image in (torch.zeros(3, 3, 64, 64), torch.randn(3, 3, 64, 64)):
            assert torch.allclose(model(torch.cat([heatmaps, image], 1)), want, atol=1e-5)

    last = train_selfsup_volumetric(hybrid, progress=False)
    assert np.isfinite(last["label_mpjpe_mm"]) and all(np.isfinite(v) for v in last["train"].values())
    tuned, tuned_codec, _ = load_lifter(tmp_path / "img" / "last.pt")
    assert tuned_codec.image and tuned.config.in_channels == 20
    assert tuned.stem_conv().weight[:, 17:].abs().sum() > 0  # the image channels were trained

    kp = read_keypoints(files[0])  # records cam01.mp4 as its source: the crops come from there
    pose = infer(kp, tmp_path / "img" / "last.pt").pose3d_cam_m
    assert pose.shape == (100, 17, 3) and np.isfinite(pose).all()
    again = infer(dataclasses.replace(kp, source=""), tmp_path / "img" / "last.pt", video=kp.source).pose3d_cam_m
    assert np.array_equal(pose, again)
    with pytest.raises(InputError, match="video the 2D was tracked on"):
        infer(dataclasses.replace(kp, source=""), tmp_path / "img" / "last.pt")
    with pytest.raises(InputError, match="image crops"):
        evaluate_file(tmp_path / "missing.h5", tmp_path / "img" / "last.pt")
    # The CLI: a 2D file whose source is not a video names the video with --video.
    bare = tmp_path / "bare.h5"
    write_kp2d_h5(bare, dataclasses.replace(read_keypoints(files[0]), source="elsewhere"))
    out = tmp_path / "pose.h5"
    args = ["infer", str(bare), "--checkpoint", str(tmp_path / "img" / "last.pt"), "-o", str(out), "--no-progress"]
    assert main([*args, "--video", kp.source]) == 0
    assert np.allclose(read_result(out).pose3d_cam_m, pose, atol=1e-6)


def test_image_input_needs_videos_and_matching_channels(tmp_path, labels_without_ground_truth):
    with pytest.raises(ConfigError, match="in_channels=17"):
        _cfg(tmp_path, labels_without_ground_truth, "inputs.image=true")
    with pytest.raises(ConfigError, match="heatmaps, image or both"):
        _cfg(tmp_path, labels_without_ground_truth, "inputs.heatmaps=false", "inputs.image=false")
    # The mocap label file's views have no video: the error says what image crops need.
    cfg = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=1", *IMAGE)
    with pytest.raises(InputError, match="video the 2D was tracked on"):
        train_selfsup_volumetric(cfg, progress=False)
