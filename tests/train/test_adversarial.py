"""Adversarial lifter training and the plausibility scorer on real takes."""

import numpy as np
import pytest
import torch

from lift3d.checkpoint import load_discriminator, load_lifter, read_checkpoint
from lift3d.cli.main import main
from lift3d.config import load_config
from lift3d.data.build_mocap import list_takes, load_take
from lift3d.errors import InputError
from lift3d.paths import REPO_ROOT
from lift3d.skeletons import H36M17
from lift3d.train.adversarial import accuracy, discriminator_loss, generator_loss
from lift3d.train.discriminator import ScorerTrainConfig, _stretch, corrupt, train_scorer
from lift3d.train.losses import bone_lengths
from lift3d.train.trainer import TrainConfig, train

TINY = [
    "data.datasets=[cmu_mocap]", "data.frames_per_epoch=1024", "data.views_per_epoch=1", "data.val_views=1",
    "model.channels=16", "model.receptive_field=27", "optim.batch_size=256", "threads=1",
    "loss.adversarial=0.01", "data.sample_frames=4", "discriminator.model.channels=16",
]


def _cfg(tmp, name, epochs):
    return load_config(TrainConfig, REPO_ROOT / "configs/tcn_multistride_81.yaml",
                       [f"name={name}", f"out_dir={tmp}/{{name}}", f"optim.epochs={epochs}", *TINY])


def test_losses_at_their_optimum():
    big = torch.full((4, 8), 30.0)
    assert discriminator_loss(big, -big) < 1e-6 and generator_loss(big) < 1e-6
    assert discriminator_loss(-big, big) > 10 and generator_loss(-big) > 10
    assert accuracy(big, -big) == 1 and accuracy(-big, big) == 0


@pytest.fixture(scope="module")
def adversarial_runs(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adv")
    full = train(_cfg(tmp, "full", 2), data_dir=shared_data, progress=False)
    train(_cfg(tmp, "resumed", 1), data_dir=shared_data, progress=False)  # killed after epoch 1
    resumed = train(_cfg(tmp, "resumed", 2), data_dir=shared_data, progress=False)
    return tmp, full, resumed


def test_adversarial_run_trains_both_and_resumes_exactly(adversarial_runs):
    tmp, full, resumed = adversarial_runs
    assert {"adversarial", "disc", "disc_acc"} <= set(full["train"])
    a, b = read_checkpoint(tmp / "full" / "last.pt"), read_checkpoint(tmp / "resumed" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["discriminator"]["model"]:
        assert torch.equal(a["discriminator"]["model"][k], b["discriminator"]["model"][k]), k
    assert full["val_mpjpe_mm"] == resumed["val_mpjpe_mm"]
    judge, _ = load_discriminator(tmp / "full" / "last.pt")  # an adversarial run's discriminator scores too
    assert judge(torch.zeros(1, 5, 17, 3)).shape == (1, 5)
    with pytest.raises(InputError, match="discriminator"):
        load_discriminator(REPO_ROOT / "checkpoints" / "tcn_baseline_81.pt")


@pytest.fixture(scope="module")
def scorer(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scorer")
    overrides = [f"out_dir={tmp}/{{name}}", "data.datasets=[cmu_mocap]", "data.val_views=1", "optim.epochs=2",
                 "windows_per_epoch=2048", "val_windows=512", "window=16", "model.channels=32", "threads=1"]
    cfg = load_config(ScorerTrainConfig, REPO_ROOT / "configs/pose_discriminator.yaml", overrides)
    last = train_scorer(cfg, data_dir=shared_data, progress=False)
    return tmp / cfg.name / "last.pt", last


def test_scorer_learns_to_tell_corrupted_motion_from_mocap(scorer):
    path, last = scorer
    assert last["val_accuracy"] > 0.6, last  # chance is 0.5
    with pytest.raises(InputError, match="not a lifter"):
        load_lifter(path)


def test_scorer_against_a_lifter(shared_data, tmp_path):
    overrides = [f"out_dir={tmp_path}/{{name}}", "data.datasets=[cmu_mocap]", "data.val_views=1", "optim.epochs=1",
                 "windows_per_epoch=512", "val_windows=256", "window=16", "model.channels=16", "threads=1",
                 "negatives=lifter"]
    cfg = load_config(ScorerTrainConfig, REPO_ROOT / "configs/pose_discriminator.yaml", overrides)
    last = train_scorer(cfg, data_dir=shared_data, progress=False)
    assert 0.0 <= last["val_accuracy"] <= 1.0 and read_checkpoint(tmp_path / cfg.name / "last.pt")["negatives"] == "lifter"


def test_corruptions_are_labelled_where_they_are():
    rng = np.random.default_rng(0)
    real = torch.tensor(rng.normal(0, 0.3, (64, 16, 17, 3)), dtype=torch.float32)
    real = real - real[:, :, :1]
    fake, labels = corrupt(real, rng)
    changed = (fake - real).abs().amax(dim=(-1, -2)) > 1e-6  # (N, T)
    assert changed.any(dim=1).all()  # every window is corrupted somewhere
    assert not changed[labels > 0.5].any()  # and nowhere outside its labelled span
    assert (fake[:, :, 0] == 0).all()


def test_stretch_changes_a_few_bone_lengths_inside_the_span_only(shared_data):
    """The ``stretch`` corruption on a real CMU take: 1-4 bones 10-40% longer or shorter, by a factor that varies
    frame to frame inside the span; every bone keeps its direction, the root stays, frames outside are untouched."""
    info = next(i for i in list_takes(["cmu_mocap"], shared_data) if i.split == "train")
    pose = torch.from_numpy(load_take(info, 30.0).pose3d_world_m[:40])
    pose = pose - pose[:, :1]
    span = slice(10, 30)
    for seed in range(5):
        p = pose.clone()
        _stretch(p, span, np.random.default_rng(seed))
        assert torch.equal(p[:10], pose[:10]) and torch.equal(p[30:], pose[30:])
        assert torch.equal(p[:, 0], pose[:, 0])
        ratio = bone_lengths(p) / bone_lengths(pose)  # (T, bones)
        changed = ((ratio[span] - 1).abs() > 1e-9).any(dim=0)
        assert 1 <= int(changed.sum()) <= 4, seed
        assert ((ratio[span] > 0.6 - 1e-9) & (ratio[span] < 1.4 + 1e-9)).all()
        assert (ratio[span][:, changed].std(dim=0) > 1e-3).all()  # frame to frame, not one length for the span
        torch.testing.assert_close(ratio[span][:, ~changed], torch.ones_like(ratio[span][:, ~changed]))
        for parent, child in H36M17.bones:
            d0, d1 = pose[:, child] - pose[:, parent], p[:, child] - p[:, parent]
            torch.testing.assert_close(torch.nn.functional.cosine_similarity(d0, d1, dim=-1),
                                       torch.ones(len(pose), dtype=pose.dtype))


def test_infer_exports_plausibility(scorer, tmp_path, pose2sim_demo):
    path, _ = scorer
    src = pose2sim_demo / "single_balancing" / "pose_2d" / "cam01_json"
    out = tmp_path / "p.csv"
    assert main(["infer", str(src), "--fps", "60", "-o", str(out), "--no-progress", "--plausibility", str(path)]) == 0
    from lift3d.io.exports import read_result

    r = read_result(out)
    assert r.plausibility.shape == (r.num_frames,) and np.all((r.plausibility >= 0) & (r.plausibility <= 1))
