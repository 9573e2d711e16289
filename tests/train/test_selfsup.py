"""Self-supervised training: runs on 2D and labels alone (no 3D ground truth anywhere), resumes, checks configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lift3d.checkpoint import load_lifter, read_checkpoint, save_checkpoint
from lift3d.cli.main import main
from lift3d.codec import Pose2DCodec
from lift3d.config import load_config
from lift3d.errors import ConfigError
from lift3d.models.tcn import TCN, TCNConfig
from lift3d.multiview.labels_h5 import read_labels
from lift3d.train.selfsup import SelfSupConfig, train_selfsup

SMALL = ["model.receptive_field=9", "model.strides=[1]", "model.channels=32", "data.frames=3",
         "data.windows_per_epoch=60", "optim.batch_size=24", "threads=1"]


def _cfg(tmp_path, labels, *extra):
    return load_config(SelfSupConfig, "configs/selfsup_multiview.yaml",
                       [f"data.labels=[{labels}]", f"data.val_labels={labels}", f"out_dir={tmp_path}/run", *SMALL, *extra])


def test_trains_without_ground_truth_and_resumes(tmp_path, labels_without_ground_truth):
    (seq,) = read_labels(labels_without_ground_truth)
    assert seq.labels.calibrated and seq.labels.frame_valid.mean() > 0.9
    cfg = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=1")
    first = train_selfsup(cfg, progress=False)
    assert set(first["train"]) == {"label", "reprojection", "consistency", "bone_symmetry", "bone_constancy"}
    assert all(np.isfinite(v) for v in first["train"].values()) and np.isfinite(first["label_mpjpe_mm"])
    # Killed after epoch 1 and started again with more epochs: resumes, keeps the first epoch's history.
    cfg2 = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=2")
    second = train_selfsup(cfg2, progress=False)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert second["epoch"] == 2 and hist[0] == json.loads(json.dumps(first))
    model, _, ckpt = load_lifter(tmp_path / "run" / "last.pt")
    assert ckpt["config"]["kind"] == "selfsup" and model.receptive_field() == 9


def test_training_lowers_the_label_error(tmp_path, labels_without_ground_truth):
    cfg = _cfg(tmp_path, labels_without_ground_truth, "optim.epochs=4", "data.windows_per_epoch=300", "optim.lr=0.003")
    train_selfsup(cfg, progress=False)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert hist[-1]["label_mpjpe_mm"] < 0.8 * hist[0]["label_mpjpe_mm"]


def test_config_errors(tmp_path, labels_without_ground_truth):
    other = TCN(TCNConfig(receptive_field=27, strides=(1,), channels=16))
    ckpt = tmp_path / "other.pt"
    save_checkpoint(ckpt, other, kind="tcn", codec=Pose2DCodec(), fps=30.0)
    with pytest.raises(ConfigError, match="architecture"):
        train_selfsup(_cfg(tmp_path, labels_without_ground_truth, f"init_checkpoint={ckpt}"), progress=False)
    with pytest.raises(ConfigError, match="data.labels"):
        train_selfsup(load_config(SelfSupConfig, "configs/selfsup_multiview.yaml", ["data.labels=[]", *SMALL]))
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(SelfSupConfig, "configs/selfsup_multiview.yaml", ["data.ground_truth=x"])


def test_cli_dispatches_on_kind(tmp_path, labels_without_ground_truth, capsys):
    args = ["train", "configs/selfsup_multiview.yaml", f"data.labels=[{labels_without_ground_truth}]",
            f"out_dir={tmp_path}/cli", "optim.epochs=1", *SMALL, "--no-progress"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epoch"] == 1
    assert read_checkpoint(tmp_path / "cli" / "best.pt")["config"]["kind"] == "selfsup"
    assert torch.isfinite(next(iter(load_lifter(tmp_path / "cli" / "best.pt")[0].parameters()))).all()


def test_semi_supervised_monocular_term(tmp_path, labels_without_ground_truth):
    from lift3d.io.kp2d import Keypoints2D, write_kp2d_h5

    (seq,) = read_labels(labels_without_ground_truth)
    v = seq.views
    mono = tmp_path / "mono.h5"
    write_kp2d_h5(mono, Keypoints2D(v.kp2d_px[1], v.conf[1], "h36m17", v.fps, "view1",
                                    tuple(int(x) for x in v.image_size[1])))
    last = train_selfsup(_cfg(tmp_path, labels_without_ground_truth, f"data.monocular=[{mono}]", "optim.epochs=1"),
                         progress=False)
    assert np.isfinite(last["train"]["monocular"]) and last["train"]["monocular"] > 0


def test_batched_terms_pad_views_without_changing_them(labels_without_ground_truth):
    """A batch mixing 3- and 4-view sequences (the 3-view one padded with confidence-0 views) gives each
    sample's terms exactly as it alone would: label and consistency are means over samples, reprojection a
    mean over (sample, predicted view, real target view)."""
    import dataclasses

    from lift3d.train.selfsup import _Windows, multiview_terms, prepare_sequence

    cfg = load_config(SelfSupConfig, "configs/selfsup_multiview.yaml", SMALL)
    (seq,) = read_labels(labels_without_ground_truth)
    s4 = prepare_sequence(seq, cfg.data.fps)
    keep = slice(0, 3)
    s3 = dataclasses.replace(s4, kp2d_px=s4.kp2d_px[keep], conf2d=s4.conf2d[keep], undist_px=s4.undist_px[keep],
                             size_px=s4.size_px[keep], K=s4.K[keep], R=s4.R[keep], t=s4.t[keep], calibrated=False)
    torch.manual_seed(0)
    model = TCN(cfg.model).eval()
    win = _Windows([s3, s4], cfg, model.receptive_field(), np.random.default_rng(0))
    index = {id(s3): 0, id(s4): 1}
    a, b = (s3, 0, 2, 5), (s4, 1, 3, 11)
    with torch.no_grad():
        ta, tb = multiview_terms(model, [a], win, index), multiview_terms(model, [b], win, index)
        both = multiview_terms(model, [a, b], win, index)
    for k in ("label", "consistency", "bone_constancy"):
        torch.testing.assert_close(both[k], (ta[k] + tb[k]) / 2)
    torch.testing.assert_close(both["reprojection"], (6 * ta["reprojection"] + 8 * tb["reprojection"]) / 14)
    assert ta["label"] > 0 and ta["reprojection"] > 0


def test_finetune_config_starts_from_the_shipped_lifter():
    from lift3d.train.selfsup import _init_model

    cfg = load_config(SelfSupConfig, "configs/selfsup_finetune.yaml", ["data.labels=[x.h5]"])
    assert cfg.init_checkpoint == "default"
    shipped = load_lifter(None)[0].state_dict()
    assert cfg.model is None  # the architecture comes from the checkpoint
    model, resolved = _init_model(cfg)
    tuned = model.state_dict()
    assert resolved.model == load_lifter(None)[0].config
    assert shipped.keys() == tuned.keys() and all(torch.equal(shipped[k], tuned[k]) for k in shipped)


def test_config_without_model_takes_the_init_checkpoints_architecture(tmp_path, labels_without_ground_truth):
    """The fine-tuning config names no architecture: a run from another lifter trains that lifter's, records it
    in its config and checkpoints, and resumes under the same config."""
    small = TCNConfig(receptive_field=9, strides=(1,), channels=24)
    torch.manual_seed(3)
    init = tmp_path / "small.pt"
    save_checkpoint(init, TCN(small), kind="tcn", codec=Pose2DCodec(), fps=30.0)
    args = [f"init_checkpoint={init}", f"data.labels=[{labels_without_ground_truth}]", f"out_dir={tmp_path}/ft",
            "data.frames=3", "data.windows_per_epoch=60", "optim.batch_size=24", "threads=1"]
    train_selfsup(load_config(SelfSupConfig, "configs/selfsup_finetune.yaml", [*args, "optim.epochs=1"]),
                  progress=False)
    last = read_checkpoint(tmp_path / "ft" / "last.pt")
    assert load_lifter(tmp_path / "ft" / "last.pt")[0].config == small
    assert last["config"]["model"]["channels"] == 24
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["model"]["receptive_field"] == 9
    second = train_selfsup(load_config(SelfSupConfig, "configs/selfsup_finetune.yaml", [*args, "optim.epochs=2"]),
                           progress=False)
    assert second["epoch"] == 2
    # A model section that differs from the checkpoint's architecture is refused, naming the checkpoint.
    with pytest.raises(ConfigError, match="small.pt.*architecture"):
        train_selfsup(load_config(SelfSupConfig, "configs/selfsup_finetune.yaml", [*args, "model.channels=32"]),
                      progress=False)
