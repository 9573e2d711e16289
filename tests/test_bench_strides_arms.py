"""The multi-stride ablation's arms are fair: each is a valid config with about the baseline's parameters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lift3d.config import load_config
from lift3d.models import count_parameters
from lift3d.train.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "tools" / "bench" / "bench_strides.py"


def _arms():
    spec = importlib.util.spec_from_file_location("bench_strides", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ARMS


ARMS = _arms()


def test_arm_keys_and_run_names_are_distinct():
    keys = [key for key, _, _ in ARMS]
    assert len(set(keys)) == len(keys)
    cfgs = [load_config(TrainConfig, ROOT / "configs" / "tcn_multistride_81.yaml", extra) for _, _, extra in ARMS]
    names = [cfg.name for cfg in cfgs] + [load_config(TrainConfig, ROOT / "configs" / "tcn_baseline_81.yaml").name]
    assert len(set(names)) == len(names), f"two arms would train into the same run directory: {names}"


@pytest.mark.parametrize("key,extra", [(key, extra) for key, _, extra in ARMS], ids=[key for key, _, _ in ARMS])
def test_arm_matches_baseline_parameters(key, extra):
    arm = load_config(TrainConfig, ROOT / "configs" / "tcn_multistride_81.yaml", extra).model
    base = load_config(TrainConfig, ROOT / "configs" / "tcn_baseline_81.yaml").model
    assert len(arm.strides) > 1 and base.strides == (1,)
    n_arm, n_base = count_parameters(arm), count_parameters(base)
    assert abs(n_arm - n_base) / n_base < 0.03, f"arm {key}: {n_arm} parameters against the baseline's {n_base}"
