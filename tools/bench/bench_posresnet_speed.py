"""Inference speed of the shipped Pose-ResNet on this machine: its volume's soft-argmax over the whole batch
against one sample at a time (what ``PoseResNet.forward`` does without gradients), side by side.

    python tools/bench/bench_posresnet_speed.py [--repeats 5]

``checkpoints/posresnet_heatmap64.pt`` on random 64 px heatmap input (the speed does not depend on the values),
float32, ``torch.no_grad``; batches of 64 (``lift3d infer``'s) and 256, 1 and 2 threads: frames per second of
``soft_argmax_3d(model.volume(x))`` (the whole batch's volume at once) and of ``model(x)`` (the last layer and
the soft-argmax per sample), median of ``--repeats`` (alternating, so both see the same machine), the ratio, the
largest difference between the two outputs, and the model's FLOPs per frame against torch's measured matmul
rate. Writes the section ``posresnet_speed`` of BENCHMARKS.md. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lifter_speed import matmul_gflops  # noqa: E402
from report import table, write_section  # noqa: E402

from lift3d.checkpoint import DEFAULT_POSRESNET, checkpoint_id, load_lifter  # noqa: E402
from lift3d.models import soft_argmax_3d  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    model, _, _ = load_lifter(DEFAULT_POSRESNET)
    model.eval()
    cfg, gflop = model.config, model.flops_per_sample() / 1e9
    rows, rates = [], []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rates.append(f"{matmul_gflops():.1f} GFLOP/s with {threads} thread(s)")
        for batch in (64, 256):
            x = torch.rand(batch, cfg.in_channels, cfg.input_size, cfg.input_size,
                           generator=torch.Generator().manual_seed(0))
            whole, by_sample = [], []
            with torch.no_grad():
                diff = float((soft_argmax_3d(model.volume(x)) - model(x)).abs().max())  # also warms both up
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    soft_argmax_3d(model.volume(x))
                    whole.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    model(x)
                    by_sample.append(time.perf_counter() - t)
            a, b = statistics.median(whole), statistics.median(by_sample)
            rows.append([threads, batch, f"{batch / a:.0f}", f"{batch / b:.0f}", f"{a / b:.2f}",
                         f"{gflop * batch / b:.1f}", f"{diff:.1e}"])
    write_section("posresnet_speed", "Pose-ResNet inference speed (CPU)", "\n".join([
        f"`checkpoints/posresnet_heatmap64.pt` (id `{checkpoint_id(model.state_dict())}`, {gflop:.3f} GFLOP per "
        f"frame), float32, no gradients, median of {args.repeats}. Measured float32 matmul rate (2048 x 2048): "
        f"{'; '.join(rates)}. Whole batch: the soft-argmax over the batch's volume at once (142 MB at 64); by "
        "sample: `PoseResNet.forward`, the last layer and the soft-argmax one sample at a time (2.2 MB), what "
        "`lift3d infer` runs. Difference: the largest between the two outputs (normalised units, the crop's "
        "half-size is 1).",
        "",
        table(["threads", "batch", "frames/s, whole batch", "frames/s, by sample", "speed-up", "GFLOP/s, by sample",
               "difference"], rows),
    ]))


if __name__ == "__main__":
    main()
