"""Does fusing the Pose-ResNet's per-frame 3D with the temporal lifter's help? (issue 6)

    python tools/bench/bench_fusion.py --checkpoint POSRESNET.pt [--frame-step 10] [--threads 2]

The fusion weight (the temporal lifter's share, :func:`lift3d.infer.fuse`) is chosen on the val split
(tools/bench/testsets.py ``val_set``: CMU 55, 141 and UI-PRMD s08, 4 views) as the one with the lowest MPJPE
averaged over the three 2D conditions; then the shipped temporal lifter alone, the Pose-ResNet alone and the
fusion at that weight are evaluated on the held-out test set, the same frames for all (every
``--frame-step``-th frame; the temporal lifter sees whole sequences). Writes the section ``posresnet_fusion``
of BENCHMARKS.md, with the ratios to the temporal lifter alone. Each lifter runs once per split and condition
(:func:`lift3d.evaluate.predict_views`, the same masked joints for both); the weights 0, 0.1, ..., 1 are mixed
from those predictions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set, val_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER, checkpoint_id, load_lifter  # noqa: E402
from lift3d.evaluate import predict_views  # noqa: E402
from lift3d.infer import fuse  # noqa: E402
from lift3d.metrics import evaluate_sequences  # noqa: E402

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


def lifted(data: Path, checkpoint: Path | None, step: int, **options) -> dict:
    """Per condition, the lifter's ``(prediction, target)`` pairs over every view of ``data`` (``options``: more
    keywords of :func:`lift3d.evaluate.predict_views`)."""
    return {c: predict_views(data, checkpoint, input_2d=inp, mask=m, frame_step=step, **options)[0]
            for c, inp, m in CONDITIONS}


def mixed(temporal: dict, per_frame: dict, weight: float) -> dict:
    """Metrics per condition of :func:`lift3d.infer.fuse` at ``weight`` over the same views and frames (the same
    masked joints: :func:`lift3d.evaluate.predict_views` masks by seed)."""
    out = {}
    for c, pairs in temporal.items():
        fused = [(torch.from_numpy(fuse(t.numpy(), p.numpy(), weight)).double(), target)
                 for (t, target), (p, _) in zip(pairs, per_frame[c])]
        out[c] = evaluate_sequences(fused)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True, help="a Pose-ResNet checkpoint")
    ap.add_argument("--frame-step", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--note", default="", help="a sentence on the checkpoint, appended to the section")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _, ckpt = load_lifter(args.checkpoint)
    ckpt_id = checkpoint_id(model.state_dict())
    if ckpt["kind"] != "posresnet":
        sys.exit(f"{args.checkpoint}: not a Pose-ResNet checkpoint ({ckpt['kind']})")
    val = val_set()
    val_t, val_p = lifted(val, None, args.frame_step), lifted(val, args.checkpoint, args.frame_step)
    score = {w: float(np.mean([r["mpjpe_mm"] for r in mixed(val_t, val_p, w).values()])) for w in WEIGHTS}
    best = min(score, key=score.get)
    print("val MPJPE by weight:", {w: round(v, 1) for w, v in score.items()}, "-> chosen", best)

    test = test_set()
    test_t, test_p = lifted(test, None, args.frame_step), lifted(test, args.checkpoint, args.frame_step)
    res = {
        f"temporal lifter alone ({DEFAULT_LIFTER.name})": mixed(test_t, test_p, 1.0),
        f"Pose-ResNet alone ({args.checkpoint.name})": mixed(test_t, test_p, 0.0),
        f"fused, temporal share {best:g}": mixed(test_t, test_p, best),
    }
    base = next(iter(res.values()))
    rows = [[name, *(r[c]["mpjpe_mm"] for c, _, _ in CONDITIONS), *(r[c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS),
             *(f"{r[c]['mpjpe_mm'] / base[c]['mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS)] for name, r in res.items()]
    header = ["3D from", *(f"MPJPE {c}" for c, _, _ in CONDITIONS), *(f"P-MPJPE {c}" for c, _, _ in CONDITIONS),
              *(f"MPJPE / temporal, {c}" for c, _, _ in CONDITIONS)]
    fused = res[f"fused, temporal share {best:g}"]
    helps = all(fused[c]["mpjpe_mm"] < base[c]["mpjpe_mm"] for c, _, _ in CONDITIONS)
    body = (
        f"Pose-ResNet `{args.checkpoint}` (id {ckpt_id}) fused "
        f"with the shipped temporal lifter by a weighted average of their root-relative 3D. Weight (the temporal "
        f"lifter's share) chosen on the val split, mean MPJPE over the three conditions: "
        + ", ".join(f"{w:g}: {v:.1f} mm" for w, v in score.items())
        + f" -> {best:g}. Held-out test set, every {args.frame_step}th frame of every view "
        f"({base['clean']['frames']} frames per condition). mm.\n\n"
        + table(header, rows)
        + f"\n\nFusion {'beats' if helps else 'does not beat'} the temporal lifter alone in every condition of the "
        "held-out test set."
        + (f" {args.note}" if args.note else "")
    )
    write_section("posresnet_fusion", "Pose-ResNet + temporal lifter fusion", body)
    print(body)


if __name__ == "__main__":
    main()
