"""Turn a training run's checkpoint into a shipped one: weights only, float16, with provenance.

    python tools/export_checkpoint.py runs/tcn_multistride_81/best.pt checkpoints/tcn_multistride_81.pt

Drops the optimizer and RNG state, stores floating-point weights as float16 (loaded back as float32; for
the shipped lifter the rounding moved test MPJPE on noisy 2D from 105.1365 to 105.1336 mm, measured with
``lift3d.evaluate.evaluate_file`` on the run's best.pt and on the export), and records the
training config, the epoch history's last and best validation figures, and a content id of the weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from lift3d.checkpoint import checkpoint_id, read_checkpoint
from lift3d.io.atomic import atomic_output


def half_weights(state: dict) -> dict:
    """Floating-point tensors as float16. Tensors that share memory (conv weights tied across the branches of a
    ``model.share`` TCN) stay shared, so the file stores them once."""
    halves, out = {}, {}
    for k, v in state.items():
        if not v.is_floating_point():
            out[k] = v
            continue
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), v.stride())
        if key not in halves:
            halves[key] = v.half()
        out[k] = halves[key]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("source", type=Path, help="a run's best.pt or last.pt")
    ap.add_argument("target", type=Path, help="the shipped checkpoint to write")
    args = ap.parse_args(argv)
    ckpt = read_checkpoint(args.source)
    weights = half_weights(ckpt["model"])
    history = ckpt.get("history") or ckpt.get("train_state", {}).get("history", [])
    keys = ("format", "version", "kind", "model_config", "codec", "skeleton", "fps", "config", "negatives", "window")
    shipped = {k: ckpt[k] for k in keys if k in ckpt}  # a discriminator has no codec, a lifter no window
    best = ({"best_val_accuracy": max((h["val_accuracy"] for h in history), default=None)}
            if ckpt["kind"] == "discriminator" else
            {"best_val_mpjpe_mm": min((h["val_mpjpe_mm"] for h in history), default=None)})
    shipped.update(
        model=weights,
        id=checkpoint_id({k: v.float() if v.is_floating_point() else v for k, v in weights.items()}),
        provenance={"source": str(args.source), "epochs_trained": len(history), **best, "history": history},
    )
    with atomic_output(args.target) as tmp:
        torch.save(shipped, tmp)
    print(f"{args.target}: id {shipped['id']}, {args.target.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
