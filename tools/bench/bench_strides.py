"""Ablation: multi-stride TCNs vs the single-stride (VideoPose3D) baseline of about the same parameter count.

    python tools/bench/bench_strides.py [--epochs 12] [--frames-per-epoch 60000] [--arms ARM ...]

Trains the baseline (configs/tcn_baseline_81.yaml) and each multi-stride arm (configs/tcn_multistride_81.yaml
with the arm's overrides: the design as configured, its coarse branches widened, widened with the branches
sharing their conv weights, fused residually onto the stride-1 stream, widened + shared + residual,
residual with narrow, widened coarse branches that see confidence-pooled 2D, and that with the stride-1
branch's masked joints filled from the coarser windows, each with the channels that match the baseline's
parameters) with the same data, seed, epochs and windows per epoch in one run, evaluates every model on the
held-out test set under clean, noisy and noisy + 30%-masked 2D, and on the masked 2D once more with each
joint's gaps interpolated before lifting (as ``lift3d infer`` does by default), and writes the section
``strides_ablation`` of BENCHMARKS.md with the ratios, and with the validation curve (by epoch) of every arm
with a run in runs/bench_strides, partly trained ones included.
Runs go to runs/bench_strides/ and resume if the script is killed and started again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set  # noqa: E402

from lift3d.config import load_config  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402
from lift3d.tracking.gaps import MAX_GAP_S  # noqa: E402
from lift3d.models import TCN  # noqa: E402
from lift3d.train.trainer import TrainConfig, run_dir, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "single-stride baseline"
# Multi-stride arms: (key, label, overrides of configs/tcn_multistride_81.yaml). Channels matched to the
# baseline's 1.24 M parameters (lift3d.models.count_parameters).
POOLED = ["model.channels=280", "model.coarse_channels=64", "model.span=scaled", "model.fusion=residual",
          "model.pool=true"]
ARMS = (
    ("fit", "multi-stride (1, 2, 3)", []),
    ("scaled", "multi-stride, coarse branches widened", ["name=ms_scaled_172", "model.channels=172", "model.span=scaled"]),
    ("shared", "multi-stride, widened, shared weights",
     ["name=ms_shared_280", "model.channels=280", "model.span=scaled", "model.share=true"]),
    ("residual", "multi-stride, residual fusion", ["name=ms_residual_192", "model.fusion=residual"]),
    ("shared_residual", "multi-stride, widened, shared weights, residual fusion",
     ["name=ms_shres_280", "model.channels=280", "model.span=scaled", "model.share=true", "model.fusion=residual"]),
    ("pooled", "multi-stride, residual fusion, narrow pooled coarse branches", ["name=ms_pooled_280_64", *POOLED]),
    ("filled", "multi-stride, residual fusion, narrow pooled coarse branches, stride 1 gap-filled",
     ["name=ms_filled_280_64", *POOLED, "model.fill=8"]),
)


def _config(cfg_name: str, overrides: list[str]) -> TrainConfig:
    return load_config(TrainConfig, ROOT / "configs" / f"{cfg_name}.yaml", overrides)


def val_curves(common: list[str]) -> str:
    """Markdown table: validation MPJPE by epoch of the baseline and of every arm with a run in runs/bench_strides
    (partly trained ones included, so an arm stopped early still shows how far it got), each arm's value with its
    ratio to the baseline's at the same epoch."""
    cfgs = [(BASELINE, _config("tcn_baseline_81", common))]
    cfgs += [(f"{label} (`{key}`)", _config("tcn_multistride_81", common + extra)) for key, label, extra in ARMS]
    runs = [(f"{label}, {cfg.model.channels} ch", run_dir(cfg) / "history.json") for label, cfg in cfgs]
    curves = {label: [e["val_mpjpe_mm"] for e in json.loads(path.read_text())] for label, path in runs if path.exists()}
    base = curves.get(runs[0][0])
    if not base:
        return "No baseline run in runs/bench_strides: no validation curves."
    rows = []
    for epoch in range(max(len(c) for c in curves.values())):
        row = [epoch + 1]
        for label, curve in curves.items():
            if epoch >= len(curve):
                row.append("")
            elif curve is base or epoch >= len(base):
                row.append(f"{curve[epoch]:.1f}")
            else:
                row.append(f"{curve[epoch]:.1f} ({curve[epoch] / base[epoch]:.2f})")
        rows.append(row)
    return table(["epoch", *curves], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--frames-per-epoch", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arms", nargs="+", choices=[k for k, _, _ in ARMS], default=[k for k, _, _ in ARMS],
                    help="multi-stride arms to train against the baseline (default: all)")
    args = ap.parse_args()
    common = [f"optim.epochs={args.epochs}", f"data.frames_per_epoch={args.frames_per_epoch}",
              f"threads={args.threads}", "out_dir=runs/bench_strides/{name}"]
    arms = [(label, "tcn_multistride_81", extra) for key, label, extra in ARMS if key in args.arms]
    models = {}
    for label, cfg_name, extra in [*arms, (BASELINE, "tcn_baseline_81", [])]:
        cfg = _config(cfg_name, common + extra)
        train(cfg)
        models[label] = (cfg, run_dir(cfg) / "best.pt")
    data = test_set()
    res = {label: {c: evaluate_file(data, ckpt, input_2d=i, mask=m) for c, i, m in CONDITIONS} for label, (_, ckpt) in models.items()}
    masked = "noisy + 30% masked"
    _, input_2d, fraction = next(c for c in CONDITIONS if c[0] == masked)
    filled = {label: evaluate_file(data, ckpt, input_2d=input_2d, mask=fraction, fill_gap_s=MAX_GAP_S)
              for label, (_, ckpt) in models.items()}
    single = res[BASELINE]
    rows = []
    for label, (cfg, _) in models.items():
        m = TCN(cfg.model)
        rows.append([label, f"{cfg.model.channels}", f"{m.num_parameters() / 1e6:.2f} M", f"{m.receptive_field()}",
                     *(res[label][c]["mpjpe_mm"] for c, _, _ in CONDITIONS),
                     *(res[label][c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS)])
    for label, _, _ in arms:
        multi = res[label]
        rows.append([f"{label} / baseline", "", "", "",
                     *(f"{multi[c]['mpjpe_mm'] / single[c]['mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS),
                     *(f"{multi[c]['p_mpjpe_mm'] / single[c]['p_mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS)])
    header = ["model", "channels", "params", "receptive field", *(f"MPJPE {c}" for c, _, _ in CONDITIONS),
              *(f"P-MPJPE {c}" for c, _, _ in CONDITIONS)]
    val = models[BASELINE][0].data
    filled_rows = [[label, filled[label]["mpjpe_mm"], f"{filled[label]['mpjpe_mm'] / filled[BASELINE]['mpjpe_mm']:.3f}",
                    filled[label]["p_mpjpe_mm"], f"{filled[label]['p_mpjpe_mm'] / filled[BASELINE]['p_mpjpe_mm']:.3f}"]
                   for label in models]
    best = min((label for label, _, _ in arms), key=lambda label: res[label][masked]["mpjpe_mm"])
    gain = 1 - res[best][masked]["mpjpe_mm"] / single[masked]["mpjpe_mm"]
    body = (f"All arms from configs/tcn_multistride_81.yaml (with the overrides in tools/bench/bench_strides.py) and "
            f"configs/tcn_baseline_81.yaml, trained {args.epochs} epochs x {args.frames_per_epoch} windows on every "
            "train split with the same seed, data and augmentation; evaluated on the held-out test set "
            "(tools/bench/testsets.py), best validation checkpoint of each. mm.\n\n"
            + table(header, rows)
            + f"\n\nThe best multi-stride arm on noisy + 30%-masked 2D ({best}) has an MPJPE {100 * abs(gain):.1f}% "
            f"{'lower' if gain >= 0 else 'higher'} than the baseline's (target: at least 10% lower).\n\n"
            f"The same noisy + 30%-masked 2D with each joint first interpolated across its gaps of up to {MAX_GAP_S:g} s "
            "(`lift3d.infer.fill_2d_gaps`, what `lift3d infer` does by default), same models; ratio to the "
            "baseline's. mm.\n\n"
            + table(["model", "MPJPE", "ratio", "P-MPJPE", "ratio"], filled_rows) + "\n\n"
            f"Validation MPJPE by epoch (val split, 2D noise level {val.val_noise_level:g} with "
            f"{100 * val.val_mask:g}% of joints masked; the score that picks each "
            "run's best checkpoint) of every arm with a run in runs/bench_strides, partly trained ones included, "
            "and in brackets the ratio to the baseline's at the same epoch. mm.\n\n" + val_curves(common))
    write_section("strides_ablation", "Multi-stride vs single-stride TCN (same parameters, data and epochs)", body)
    print(body)


if __name__ == "__main__":
    main()
