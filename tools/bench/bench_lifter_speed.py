"""Inference speed of the temporal lifters on this machine, against its measured matmul rate.

    python tools/bench/bench_lifter_speed.py [--frames 3000] [--repeats 5]

For the 81- and 243-frame multi-stride models (configs/tcn_multistride_{81,243}.yaml), their
parameter-matched single-stride baselines, and the two wide lifters of about 3.3 M parameters: the shipped
multi-stride one (configs/tcn_wide_filled_81.yaml) and the single-stride one shipped before it
(configs/tcn_wide_81.yaml): whole-sequence inference (``predict_sequence``, one call over
``--frames`` frames, float32, batch 1), frames per second (median of ``--repeats``), the model's analytic
FLOPs per frame, the FLOP rate that implies, and that rate as a fraction of torch's measured float32
matmul rate here (2048 x 2048, same threads). Writes the section ``lifter_speed`` of BENCHMARKS.md.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402

from lift3d.config import load_config  # noqa: E402
from lift3d.models import TCN, baseline_config_matching  # noqa: E402
from lift3d.train.trainer import TrainConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


@torch.inference_mode()
def fps(model: TCN, frames: int, repeats: int) -> float:
    model.eval()
    x = torch.randn(1, frames, 17, 3)
    model.predict_sequence(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_sequence(x)
        times.append(time.perf_counter() - t)
    return frames / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    peak = matmul_gflops()
    rows = []
    models = []
    for R in (81, 243):
        cfg = load_config(TrainConfig, ROOT / "configs" / f"tcn_multistride_{R}.yaml").model
        models += [("multi-stride", cfg), ("single-stride", baseline_config_matching(cfg))]
    for name in ("tcn_wide_81", "tcn_wide_filled_81"):
        wide = load_config(TrainConfig, ROOT / "configs" / f"{name}.yaml").model
        design = "single-stride" if len(wide.strides) == 1 else "multi-stride"
        models.append((f"{design}, {wide.channels} channels ({name})", wide))
    for label, c in models:
        model = TCN(c)
        f = fps(model, args.frames, args.repeats)
        flops = model.flops_per_frame()
        rate = f * flops / 1e9
        rows.append([model.receptive_field(), label, f"{model.num_parameters() / 1e6:.2f} M", f"{flops / 1e6:.2f}",
                     f"{f:,.0f}", f"{rate:.1f}", f"{rate / peak:.1%}"])
    body = (f"Whole-sequence inference of {args.frames} frames, batch 1, float32; median of {args.repeats}. "
            f"Measured float32 matmul rate (2048 x 2048): **{peak:.1f} GFLOP/s**.\n\n"
            + table(["receptive field", "model", "params", "MFLOP/frame", "frames/s", "GFLOP/s", "of matmul rate"], rows))
    write_section("lifter_speed", "Temporal lifter inference speed (CPU)", body)
    print(body)


if __name__ == "__main__":
    main()
