"""Ablation: multi-stride TCN vs the single-stride (VideoPose3D) baseline of about the same parameter count.

    python tools/bench/bench_strides.py [--epochs 12] [--frames-per-epoch 60000]

Trains both (configs/tcn_multistride_81.yaml and configs/tcn_baseline_81.yaml, with the same data, seed,
epochs and windows per epoch) in one run, evaluates both on the held-out test set under clean, noisy and
noisy + 30%-masked 2D, and writes the section ``strides_ablation`` of BENCHMARKS.md with the ratios.
Runs go to runs/bench_strides/ and resume if the script is killed and started again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set  # noqa: E402

from lift3d.config import load_config  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402
from lift3d.models import TCN  # noqa: E402
from lift3d.train.trainer import TrainConfig, run_dir, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--frames-per-epoch", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    overrides = [f"optim.epochs={args.epochs}", f"data.frames_per_epoch={args.frames_per_epoch}",
                 f"threads={args.threads}", "out_dir=runs/bench_strides/{name}"]
    models = {}
    for label, cfg_name in (("multi-stride (1, 2, 3)", "tcn_multistride_81"), ("single-stride baseline", "tcn_baseline_81")):
        cfg = load_config(TrainConfig, ROOT / "configs" / f"{cfg_name}.yaml", overrides)
        train(cfg)
        models[label] = (cfg, run_dir(cfg) / "best.pt")
    data = test_set()
    res = {label: {c: evaluate_file(data, ckpt, input_2d=i, mask=m) for c, i, m in CONDITIONS} for label, (_, ckpt) in models.items()}
    multi, single = res["multi-stride (1, 2, 3)"], res["single-stride baseline"]
    rows = []
    for label, (cfg, _) in models.items():
        n = TCN(cfg.model).num_parameters()
        rows.append([label, f"{cfg.model.channels}", f"{n / 1e6:.2f} M", *(res[label][c]["mpjpe_mm"] for c, _, _ in CONDITIONS),
                     *(res[label][c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS)])
    rows.append(["multi / single", "", "", *(f"{multi[c]['mpjpe_mm'] / single[c]['mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS),
                 *(f"{multi[c]['p_mpjpe_mm'] / single[c]['p_mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS)])
    header = ["model", "channels", "params", *(f"MPJPE {c}" for c, _, _ in CONDITIONS), *(f"P-MPJPE {c}" for c, _, _ in CONDITIONS)]
    gain = 1 - multi["noisy + 30% masked"]["mpjpe_mm"] / single["noisy + 30% masked"]["mpjpe_mm"]
    body = (f"Both 81-frame receptive field (configs/tcn_multistride_81.yaml, configs/tcn_baseline_81.yaml), trained {args.epochs} epochs x {args.frames_per_epoch} windows on every "
            "train split with the same seed, data and augmentation; evaluated on the held-out test set "
            "(tools/bench/testsets.py), best validation checkpoint of each. mm.\n\n"
            + table(header, rows)
            + f"\n\nMulti-stride MPJPE on noisy + 30%-masked 2D is {100 * abs(gain):.1f}% "
            f"{'lower' if gain >= 0 else 'higher'} than the baseline's (target: at least 10% lower).")
    write_section("strides_ablation", "Multi-stride vs single-stride TCN (same parameters, data and epochs)", body)
    print(body)


if __name__ == "__main__":
    main()
