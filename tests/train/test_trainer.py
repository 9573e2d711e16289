"""The training loop on real takes: it learns, checkpoints rebuild the model, and a killed run resumes exactly."""

from pathlib import Path

import pytest
import torch

from lift3d.checkpoint import load_lifter, read_checkpoint
from lift3d.config import load_config
from lift3d.errors import ConfigError
from lift3d.paths import REPO_ROOT
from lift3d.train.trainer import TrainConfig, resumable_config, train

TINY = [
    "data.datasets=[cmu_mocap]", "data.frames_per_epoch=1024", "data.views_per_epoch=1", "data.val_views=1",
    "model.channels=16", "model.receptive_field=27", "optim.batch_size=256", "threads=1",
]


def _cfg(tmp: Path, name: str, epochs: int, extra=()) -> TrainConfig:
    return load_config(
        TrainConfig, REPO_ROOT / "configs/tcn_multistride_81.yaml",
        [f"name={name}", f"out_dir={tmp}/{{name}}", f"optim.epochs={epochs}", *TINY, *extra],
    )


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    full = train(_cfg(tmp, "full", 2), data_dir=shared_data, progress=False)
    # The same run, killed after its first epoch and started again.
    train(_cfg(tmp, "resumed", 1), data_dir=shared_data, progress=False)
    resumed = train(_cfg(tmp, "resumed", 2), data_dir=shared_data, progress=False)
    return tmp, full, resumed


def test_resume_continues_exactly(runs):
    tmp, full, resumed = runs
    a = read_checkpoint(tmp / "full" / "last.pt")
    b = read_checkpoint(tmp / "resumed" / "last.pt")
    assert a["train_state"]["epoch"] == b["train_state"]["epoch"] == 1
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), f"{k} differs after resume"
    assert full["val_mpjpe_mm"] == resumed["val_mpjpe_mm"]


def test_it_learns(runs):
    tmp, full, _ = runs
    hist = read_checkpoint(tmp / "full" / "last.pt")["train_state"]["history"]
    assert hist[-1]["train"]["position"] < hist[0]["train"]["position"], hist


def test_checkpoint_rebuilds_the_model(runs):
    tmp, _, _ = runs
    model, codec, ckpt = load_lifter(tmp / "full" / "best.pt")
    assert model.receptive_field() == 27 and not model.training
    assert ckpt["fps"] == 30.0 and ckpt["config"]["name"] == "full"
    out = model.predict_sequence(torch.zeros(1, 40, 17, 3))
    assert out.shape == (1, 40, 17, 3)


def test_resume_refuses_another_config(runs, shared_data):
    tmp, _, _ = runs
    with pytest.raises(ConfigError, match="another config"):
        train(_cfg(tmp, "full", 3, ["optim.lr=0.5"]), data_dir=shared_data, progress=False)


def test_resume_accepts_another_thread_count_more_epochs_and_a_moved_run():
    saved = {"name": "a", "threads": 1, "out_dir": "runs/{name}", "optim": {"epochs": 20, "lr": 0.001},
             "model": {"channels": 8}}
    assert resumable_config(saved) == resumable_config({**saved, "threads": 2, "optim": {"epochs": 30, "lr": 0.001}})
    assert resumable_config(saved) == resumable_config({**saved, "out_dir": "runs/bench/{name}"})
    assert resumable_config(saved) != resumable_config({**saved, "model": {"channels": 16}})


def test_bad_configs(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(TrainConfig, REPO_ROOT / "configs/tcn_multistride_81.yaml", ["model.bogus=1"])
    with pytest.raises(ConfigError, match="bone_jitter must be in"):
        load_config(TrainConfig, REPO_ROOT / "configs/tcn_wide_proportions_81.yaml", ["data.bone_jitter=1.2"])
    with pytest.raises(ConfigError, match="receptive_field must be a power of 3"):
        load_config(TrainConfig, REPO_ROOT / "configs/tcn_multistride_81.yaml", ["model.receptive_field=80"])
    p = tmp_path / "c.yaml"
    p.write_text("model: {channels: 8}\n")
    with pytest.raises(ConfigError, match="missing required key 'name'"):
        load_config(TrainConfig, p)


TCN_CONFIGS = sorted(path.stem for path in (REPO_ROOT / "configs").glob("tcn_*.yaml"))


def test_tcn_configs_found():
    assert {"tcn_multistride_81", "tcn_baseline_81", "tcn_wide_81", "tcn_causal_81"} <= set(TCN_CONFIGS)


@pytest.mark.parametrize("name", TCN_CONFIGS)
def test_shipped_configs_load(name):
    cfg = load_config(TrainConfig, REPO_ROOT / f"configs/{name}.yaml")
    assert cfg.name == name
