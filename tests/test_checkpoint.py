"""Shipped checkpoints: the export keeps the model, and the shipped default loads and lifts."""

from pathlib import Path

import pytest
import torch

from lift3d.checkpoint import DEFAULT_LIFTER, checkpoint_id, load_lifter, read_checkpoint, save_checkpoint
from lift3d.codec import Pose2DCodec
from lift3d.config import load_config
from lift3d.models import TCN, TCNConfig
from lift3d.paths import REPO_ROOT
from lift3d.train.trainer import TrainConfig
from tool_scripts import load_tool

export = load_tool("export_checkpoint").main


def test_export_round_trip(tmp_path: Path):
    torch.manual_seed(0)
    model = TCN(TCNConfig(receptive_field=27, channels=16)).eval()
    src = tmp_path / "best.pt"
    save_checkpoint(src, model, kind="tcn", codec=Pose2DCodec(), fps=30.0, config={"name": "t"},
                    history=[{"val_mpjpe_mm": 50.0}])
    dst = tmp_path / "shipped.pt"
    assert export([str(src), str(dst)]) == 0
    shipped = read_checkpoint(dst)
    assert "train_state" not in shipped and shipped["provenance"]["best_val_mpjpe_mm"] == 50.0
    assert all(v.dtype == torch.float16 for v in shipped["model"].values() if v.is_floating_point())
    loaded, _, _ = load_lifter(dst)
    x = torch.randn(1, 40, 17, 3)
    with torch.no_grad():
        a, b = model.predict_sequence(x), loaded.predict_sequence(x)
    assert (a - b).abs().max() < 5e-3, "float16 storage should barely change the output"
    assert shipped["id"] == checkpoint_id(loaded.state_dict())


def test_export_stores_tied_weights_once(tmp_path: Path):
    """A ``model.share`` TCN's branches reuse the stride-1 convs: the export keeps them one tensor, so the file
    is about the size of the unique weights, and the loaded model is tied and lifts as the source does."""
    torch.manual_seed(0)
    shared = TCN(TCNConfig(receptive_field=27, channels=32, span="scaled", share=True)).eval()
    untied = TCN(TCNConfig(receptive_field=27, channels=32, span="scaled", share=False)).eval()
    sizes = {}
    for name, model in (("shared", shared), ("untied", untied)):
        src = tmp_path / f"{name}.pt"
        save_checkpoint(src, model, kind="tcn", codec=Pose2DCodec(), fps=30.0, config={"name": name},
                        history=[{"val_mpjpe_mm": 50.0}])
        assert export([str(src), str(tmp_path / f"{name}_shipped.pt")]) == 0
        sizes[name] = (tmp_path / f"{name}_shipped.pt").stat().st_size
    assert sizes["shared"] < 0.7 * sizes["untied"], sizes  # 3 branches, conv weights stored once
    loaded, _, _ = load_lifter(tmp_path / "shared_shipped.pt")
    assert loaded.branches[1].blocks[0].conv.weight is loaded.branches[0].blocks[0].conv.weight
    x = torch.randn(1, 100, 17, 3)
    with torch.no_grad():
        assert (shared.predict_sequence(x) - loaded.predict_sequence(x)).abs().max() < 5e-3


def test_shipped_default_loads_and_lifts():
    """The default temporal lifter is the multi-stride model of configs/tcn_wide_filled_81.yaml
    (checkpoints/README.md): strides 1, 2, 3 over 243 frames at 30 fps."""
    assert DEFAULT_LIFTER.stat().st_size < 20e6
    model, codec, ckpt = load_lifter()
    assert model.config == load_config(TrainConfig, REPO_ROOT / "configs" / "tcn_wide_filled_81.yaml").model
    assert model.config.strides == (1, 2, 3) and model.receptive_field() == 243 and ckpt["fps"] == 30.0
    assert ckpt["id"] == checkpoint_id(model.state_dict())
    with torch.no_grad():
        out = model.predict_sequence(torch.zeros(1, 10, 17, 3))
    assert out.shape == (1, 10, 17, 3) and torch.isfinite(out).all()


SHIPPED_LIFTERS = sorted(DEFAULT_LIFTER.parent.glob("tcn_*.pt"))


@pytest.mark.parametrize("path", SHIPPED_LIFTERS, ids=lambda p: p.name)
def test_every_shipped_lifter_loads_and_lifts_masked_2d(path: Path):
    """Each shipped temporal lifter rebuilds from its file alone, its id is its weights' hash, and it lifts a
    sequence with masked joints (confidence 0) to finite 3D; its training config matches its architecture."""
    assert path.stat().st_size < 20e6
    model, codec, ckpt = load_lifter(path)
    assert ckpt["id"] == checkpoint_id(model.state_dict())
    assert ckpt["config"]["model"]["strides"] == list(model.config.strides)
    assert ckpt["config"]["model"].get("fill", 0) == model.config.fill
    x = torch.randn(1, 120, 17, 3) * 0.3
    x[..., 2] = 1.0
    x[0, 40:60, 3, :] = 0.0  # a masked right ankle for 20 frames
    with torch.no_grad():
        out = model.predict_sequence(x)
    assert out.shape == (1, 120, 17, 3) and torch.isfinite(out).all()


def test_shipped_multistride_lifter_fills_gaps():
    """checkpoints/tcn_multistride_81.pt is the stride ablation's `filled` arm (checkpoints/README.md)."""
    model, _, _ = load_lifter(DEFAULT_LIFTER.parent / "tcn_multistride_81.pt")
    cfg = model.config
    assert cfg.strides == (1, 2, 3) and cfg.pool and cfg.fill == 8 and cfg.fusion == "residual"


def test_discriminator_export_round_trip(tmp_path: Path):
    from lift3d.checkpoint import load_discriminator
    from lift3d.models.discriminator import DiscriminatorConfig, PoseDiscriminator

    torch.manual_seed(0)
    model = PoseDiscriminator(DiscriminatorConfig(channels=16)).eval()
    src = tmp_path / "best.pt"
    save_checkpoint(src, model, kind="discriminator", codec=None, fps=30.0, config={"name": "d"}, window=32,
                    negatives="corrupted", history=[{"val_accuracy": 0.9}, {"val_accuracy": 0.95}])
    dst = tmp_path / "shipped.pt"
    assert export([str(src), str(dst)]) == 0
    shipped = read_checkpoint(dst)
    assert "codec" not in shipped and shipped["provenance"]["best_val_accuracy"] == 0.95
    assert shipped["negatives"] == "corrupted"
    loaded, _ = load_discriminator(dst)
    x = torch.randn(1, 20, 17, 3) * 0.3
    with torch.no_grad():
        assert (model(x) - loaded(x)).abs().max() < 2e-2
