"""Pose-ResNet ablation in one run: soft-argmax volume vs direct regression, with and without CBAM and WASP.

    python tools/bench/bench_posresnet.py [--epochs 6] [--frames-per-epoch 30000] [--threads 1] [--frame-step 10]

Trains four variants of configs/posresnet_heatmap64.yaml with the same data, seed, epochs and samples
(the full model; direct regression from the same backbone; without CBAM; without WASP), evaluates each,
and the shipped temporal lifter beside them, on the held-out test set (tools/bench/testsets.py) under
clean, noisy and noisy + 30%-masked 2D (every ``--frame-step``-th frame of every view, the same frames
for every model; the temporal lifter sees whole sequences), and times CPU inference (frames/s, batch 256, 1 and 2 threads).
Writes the section ``posresnet_ablation`` of BENCHMARKS.md. Runs go to runs/bench_posresnet/ and resume
if the script is killed and started again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER  # noqa: E402
from lift3d.config import load_config  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402
from lift3d.models.posresnet import PoseResNet  # noqa: E402
from lift3d.train.trainer import run_dir  # noqa: E402
from lift3d.train.volumetric import VolumetricTrainConfig, train_volumetric  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARMS = {
    "volumetric, CBAM + WASP": [],
    "direct regression, CBAM + WASP": ["model.head=regression"],
    "volumetric, no CBAM": ["model.cbam=false"],
    "volumetric, no WASP": ["model.wasp=false"],
}


def frames_per_second(model: PoseResNet, threads: int, batch: int = 256, repeats: int = 3) -> float:
    """Forward passes on random heatmaps, median of ``repeats``; the heatmap rendering is not included."""
    torch.set_num_threads(threads)
    c = model.config
    x = torch.rand(batch, c.in_channels, c.input_size, c.input_size)
    model.eval()
    times = []
    with torch.no_grad():
        model(x[:8])  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return batch / sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--frames-per-epoch", type=int, default=30000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frame-step", type=int, default=10, help="score every n-th test frame")
    ap.add_argument("--note", default="", help="a sentence on the run's conditions, appended to the section")
    args = ap.parse_args()
    data = test_set()
    rows, results = [], {}
    for i, (label, extra) in enumerate(ARMS.items()):
        cfg = load_config(VolumetricTrainConfig, ROOT / "configs" / "posresnet_heatmap64.yaml", [
            f"name=arm{i}", f"optim.epochs={args.epochs}", f"data.frames_per_epoch={args.frames_per_epoch}",
            f"threads={args.threads}", "out_dir=runs/bench_posresnet/{name}", *extra])
        train_volumetric(cfg)
        ckpt = run_dir(cfg) / "best.pt"
        results[label] = {c: evaluate_file(data, ckpt, input_2d=inp, mask=m, frame_step=args.frame_step)
                          for c, inp, m in CONDITIONS}
        model = PoseResNet(cfg.model)
        fps = [frames_per_second(model, t) for t in (1, 2)]
        rows.append([label, f"{model.num_parameters() / 1e6:.2f} M", f"{model.flops_per_sample() / 1e9:.3f}",
                     *(results[label][c]["mpjpe_mm"] for c, _, _ in CONDITIONS),
                     *(results[label][c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS), f"{fps[0]:,.0f}", f"{fps[1]:,.0f}"])
    tcn = {c: evaluate_file(data, DEFAULT_LIFTER, input_2d=inp, mask=m, frame_step=args.frame_step)
           for c, inp, m in CONDITIONS}
    rows.append([f"shipped temporal lifter ({DEFAULT_LIFTER.name})", "", "",
                 *(tcn[c]["mpjpe_mm"] for c, _, _ in CONDITIONS), *(tcn[c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS), "", ""])
    full = results["volumetric, CBAM + WASP"]
    ratios = [[f"{label} / full", "", "",
               *(f"{r[c]['mpjpe_mm'] / full[c]['mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS),
               *(f"{r[c]['p_mpjpe_mm'] / full[c]['p_mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS), "", ""]
              for label, r in results.items() if r is not full]
    header = ["model", "params", "GFLOP/frame", *(f"MPJPE {c}" for c, _, _ in CONDITIONS),
              *(f"P-MPJPE {c}" for c, _, _ in CONDITIONS), "frames/s (1 thread)", "frames/s (2 threads)"]
    body = (f"Four variants of `configs/posresnet_heatmap64.yaml` (ResNet-18, width 16, 64 px heatmap input), each "
            f"trained {args.epochs} epochs x {args.frames_per_epoch} frames on every train split with the same seed, "
            f"data and augmentation ({args.threads} thread(s)); best validation checkpoint of each, evaluated frame by "
            f"frame on every {args.frame_step}th frame of the held-out test set (tools/bench/testsets.py; "
            f"{full['clean']['frames']} frames per condition) with the file's intrinsics, root depth from the "
            "box size. The shipped temporal lifter on the same test set for reference. mm; frames/s: forward pass "
            "only (heatmap rendering excluded), batch 256, float32.\n\n"
            + table(header, rows + ratios) + (f"\n\n{args.note}" if args.note else ""))
    write_section("posresnet_ablation", "Pose-ResNet ablation: soft-argmax vs regression, CBAM, WASP", body)
    print(body)


if __name__ == "__main__":
    main()
