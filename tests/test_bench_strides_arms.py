"""The multi-stride ablation's arms are fair: each is a valid config with about the baseline's parameters."""

from __future__ import annotations

import json

import pytest

from lift3d.models import count_parameters
from tool_scripts import load_tool

BENCH_MODULE = load_tool("bench/bench_strides")
ARMS = BENCH_MODULE.ARMS


def test_arm_keys_and_run_names_are_distinct():
    keys = [key for key, _, _ in ARMS]
    assert len(set(keys)) == len(keys)
    cfgs = [BENCH_MODULE._config("tcn_multistride_81", extra) for _, _, extra in ARMS]
    names = [cfg.name for cfg in cfgs] + [BENCH_MODULE._config("tcn_baseline_81", []).name]
    assert len(set(names)) == len(names), f"two arms would train into the same run directory: {names}"


@pytest.mark.parametrize("key,extra", [(key, extra) for key, _, extra in ARMS], ids=[key for key, _, _ in ARMS])
def test_arm_matches_baseline_parameters(key, extra):
    arm = BENCH_MODULE._config("tcn_multistride_81", extra).model
    base = BENCH_MODULE._config("tcn_baseline_81", []).model
    assert len(arm.strides) > 1 and base.strides == (1,)
    n_arm, n_base = count_parameters(arm), count_parameters(base)
    assert abs(n_arm - n_base) / n_base < 0.03, f"arm {key}: {n_arm} parameters against the baseline's {n_base}"


def test_val_curves_table_has_every_run_with_ratios_to_the_baseline(tmp_path):
    common = [f"out_dir={tmp_path}/{{name}}"]
    base_name = BENCH_MODULE._config("tcn_baseline_81", common).name
    key, _, extra = ARMS[-1]
    arm_name = BENCH_MODULE._config("tcn_multistride_81", common + extra).name
    for name, curve in ((base_name, [100.0, 80.0, 70.0]), (arm_name, [90.0, 88.0])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.json").write_text(json.dumps([{"val_mpjpe_mm": v} for v in curve]))
    lines = BENCH_MODULE.val_curves(common).splitlines()
    assert len(lines) == 2 + 3  # header, rule, one row per epoch of the longest run
    assert f"(`{key}`)" in lines[0] and len(lines[0].split("|")) == 2 + 3  # epoch, baseline, the one arm run
    assert lines[2].split("|")[1:4] == [" 1 ", " 100.0 ", " 90.0 (0.90) "]
    assert lines[3].split("|")[1:4] == [" 2 ", " 80.0 ", " 88.0 (1.10) "]
    assert lines[4].split("|")[1:4] == [" 3 ", " 70.0 ", "  "]  # the arm stopped after epoch 2


def test_val_curves_without_a_baseline_run_says_so(tmp_path):
    assert "No baseline run" in BENCH_MODULE.val_curves([f"out_dir={tmp_path}/{{name}}"])
