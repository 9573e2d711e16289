"""Training speed of the temporal lifters on this machine: this tree against an earlier commit, in one run.

    python tools/bench/bench_train_speed.py [--against REV] [--steps 20] [--threads 2] [--no-epoch]

For the architectures of the ablation's baseline (configs/tcn_baseline_81.yaml, the shipped lifter's before
configs/tcn_wide_81.yaml) and a multi-stride lifter (configs/tcn_multistride_81.yaml with the ``pooled`` arm's
overrides of bench_strides.py: checkpoints/tcn_multistride_81.pt's architecture until the ``filled`` arm, which adds
``model.fill``, replaced it; ``pooled`` is kept so that ``--against`` can compare with commits before ``fill``):

* a training step as ``lift3d train`` takes it: ``optim.batch_size`` windows through the strided mode
  (``TCN.forward_single``), the mean squared error, backward and the Adam (amsgrad) step; the median of
  ``--steps`` timed steps after three warm-up ones, on random windows (their values do not change the work);
  its FLOPs (torch's FlopCounterMode over one step) as a rate and as a fraction of the measured matmul rate;
* one whole epoch of ``lift3d train`` on the real data (``data.frames_per_epoch`` windows; rendering the virtual
  cameras' 2D, the steps, and validation), seconds, unless ``--no-epoch``.

With ``--against REV`` the same measurements run, one after the other, on the package as it was at that git
revision (checked out into a temporary worktree, deleted afterwards), and the table gives the ratios. Each
tree is measured in its own process. Writes the section ``train_speed`` of BENCHMARKS.md. Run it on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parents[1]


def training_setup(tree: Path, config: str, overrides: list[str]):
    """``(cfg, model in train mode, x, y)``: the config from ``tree``'s configs/, its model, and one batch of random
    windows and targets, built with whichever ``lift3d`` this process imports."""
    import torch

    from lift3d.config import load_config
    from lift3d.models import TCN
    from lift3d.train.trainer import TrainConfig

    cfg = load_config(TrainConfig, tree / "configs" / f"{config}.yaml", overrides)
    model = TCN(cfg.model).train()
    x = torch.randn(cfg.optim.batch_size, model.receptive_field(), cfg.model.num_joints, cfg.model.in_features)
    y = torch.randn(cfg.optim.batch_size, 1, cfg.model.num_joints, cfg.model.out_features)
    return cfg, model, x, y


def worker(tree: Path, config: str, overrides: list[str], steps: int, threads: int, epoch: bool, data_dir: str) -> dict:
    """Measure in this process with the package of ``tree`` (imported from there)."""
    sys.path.insert(0, str(tree))
    import logging

    import torch

    from lift3d.config import load_config
    from lift3d.train.trainer import TrainConfig, train

    logging.disable(logging.WARNING)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg, model, x, y = training_setup(tree, config, overrides)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, amsgrad=True)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        (model.forward_single(x) - y).square().mean().backward()
        opt.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    out = {"step_s": statistics.median(times), "params": model.num_parameters(), "batch": cfg.optim.batch_size,
           "windows": cfg.data.frames_per_epoch}
    if epoch:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(TrainConfig, tree / "configs" / f"{config}.yaml",
                              [*overrides, "optim.epochs=1", f"out_dir={tmp}/run", f"threads={threads}"])
            out["epoch_s"] = train(cfg, restart=True, data_dir=Path(data_dir), progress=False)["seconds"]
    return out


def measure(tree: Path, config: str, overrides: list[str], args, data_dir: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(tree), config, json.dumps(overrides), "--steps", str(args.steps),
           "--threads", str(args.threads), "--data-dir", str(data_dir)] + (["--no-epoch"] if args.no_epoch else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"measuring {config} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_gflop(config: str, overrides: list[str]) -> float:
    """FLOPs of one training step (forward, backward; the optimizer's elementwise work is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    _, model, x, _ = training_setup(ROOT, config, overrides)
    with FlopCounterMode(display=False) as counter:
        model.forward_single(x).square().mean().backward()
    return counter.get_total_flops() / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", metavar="REV", help="git revision to compare with (e.g. a commit id)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-epoch", action="store_true", help="time training steps only, not a whole epoch")
    ap.add_argument("--worker", nargs=3, metavar=("TREE", "CONFIG", "OVERRIDES"), help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        tree, config, overrides = args.worker
        print(json.dumps(worker(Path(tree), config, json.loads(overrides), args.steps, args.threads,
                                not args.no_epoch, args.data_dir)))
        return

    sys.path.insert(0, str(BENCH))
    import torch
    from bench_lifter_speed import matmul_gflops
    from bench_strides import ARMS
    from report import table, write_section

    from lift3d.paths import shared_data_dir

    torch.set_num_threads(args.threads)
    data_dir = shared_data_dir()
    if not args.no_epoch and not data_dir.is_dir():
        raise SystemExit(f"{data_dir}: the shared data is missing (needed for the epoch timing; or use --no-epoch)")
    pooled = next(extra for key, _, extra in ARMS if key == "pooled")
    models = [("single-stride (tcn_baseline_81.pt)", "tcn_baseline_81", []),
              ("multi-stride, pooled arm", "tcn_multistride_81", pooled)]
    trees = [("this tree", ROOT)]
    worktree = None
    if args.against:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.against], capture_output=True,
                             text=True, check=True).stdout.strip()
        worktree = Path(tempfile.mkdtemp(prefix="lift3d_against_")) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), rev], check=True,
                       capture_output=True)
        trees.insert(0, (f"commit {rev}", worktree))
    try:
        peak = matmul_gflops()
        results = {}
        for label, config, overrides in models:
            for tree_label, tree in trees:
                print(f"{label}: {tree_label} ...", flush=True)
                results[label, tree_label] = measure(tree, config, overrides, args, data_dir)
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)

    header = ["model", "params", "GFLOP/step"]
    for tree_label, _ in trees:
        header += [f"step ms, {tree_label}", f"of matmul rate, {tree_label}"]
        header += [] if args.no_epoch else [f"epoch s, {tree_label}"]
    if args.against:
        header += ["step time ratio (this / then)"] + ([] if args.no_epoch else ["epoch time ratio (this / then)"])
    rows = []
    for label, config, overrides in models:
        gflop = step_gflop(config, overrides)
        now = results[label, "this tree"]
        row = [label, f"{now['params'] / 1e6:.2f} M", f"{gflop:.2f}"]
        for tree_label, _ in trees:
            r = results[label, tree_label]
            row += [f"{1000 * r['step_s']:.0f}", f"{gflop / r['step_s'] / peak:.0%}"]
            row += [] if args.no_epoch else [f"{r['epoch_s']:.0f}"]
        if args.against:
            then = results[label, trees[0][0]]
            row.append(f"{now['step_s'] / then['step_s']:.2f}")
            row += [] if args.no_epoch else [f"{now['epoch_s'] / then['epoch_s']:.2f}"]
        rows.append(row)
    batches = sorted({r["batch"] for r in results.values()})
    windows = sorted({r["windows"] for r in results.values()})
    body = (f"A training step: batch {' or '.join(map(str, batches))} windows through the strided mode, loss, backward, "
            f"Adam; median of {args.steps} steps on random windows, {args.threads} threads. "
            + ("" if args.no_epoch else "Epoch: one whole epoch of `lift3d train` on the real data (rendering the 2D, "
               f"{' or '.join(f'{w:,}' for w in windows)} windows, validation). ") + "Measured float32 matmul rate "
            f"(2048 x 2048): **{peak:.1f} GFLOP/s**; 'of matmul rate' is the step's FLOPs (forward and backward, "
            "torch's FlopCounterMode) per second against it.\n\n" + table(header, rows))
    write_section("train_speed", "Temporal lifter training speed (CPU)", body)
    print(body)


if __name__ == "__main__":
    main()
