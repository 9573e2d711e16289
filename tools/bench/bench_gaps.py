"""Gap filling before lifting: each joint interpolated across its short 2D gaps (lift3d.tracking.gaps).

    python tools/bench/bench_gaps.py [--checkpoints CKPT ...]

Masked 2D comes in two shapes: joints dropped at random in every frame (the ``noisy + 30% masked`` condition of
every lifter benchmark: 5 of the 17 joints of each frame, independently) and a detector losing a joint for a
while (runs of frames of mean length 8 or 30 per joint, 30% of the joint-frames; lift3d.data.noise_2d).

1. Val split (tools/bench/testsets.py): the shipped default lifter under each shape, with gaps up to 0, 0.1,
   0.25, 0.5, 1 and 2 s filled: the longest-gap setting ``lift3d infer`` uses by default (``MAX_GAP_S``) is
   chosen here, never on the test set.
2. Test split: each lifter (default: the shipped single-stride and multi-stride ones) under each shape,
   without and with the default filling, side by side in one run, with the ratios.

Writes the section ``gap_filling`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import test_set, val_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402
from lift3d.paths import REPO_ROOT  # noqa: E402
from lift3d.tracking.gaps import MAX_GAP_S  # noqa: E402

# (label, fraction masked, mean run length in frames: 0 = round(fraction * 17) random joints of every frame)
SHAPES = (("30% of joints, every frame", 0.3, 0.0), ("30%, runs of 8 frames", 0.3, 8.0),
          ("30%, runs of 30 frames", 0.3, 30.0))
GAPS_S = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def mpjpe(data: Path, ckpt: Path, fraction: float, runs: float, gap_s: float) -> float:
    return evaluate_file(data, ckpt, input_2d="noisy", mask=fraction, mask_run_frames=runs,
                         fill_gap_s=gap_s)["mpjpe_mm"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", nargs="+", type=Path,
                    default=[DEFAULT_LIFTER, REPO_ROOT / "checkpoints" / "tcn_multistride_81.pt"])
    args = ap.parse_args()

    val = val_set()
    sweep = {label: [mpjpe(val, DEFAULT_LIFTER, f, r, g) for g in GAPS_S] for label, f, r in SHAPES}
    rows = [[label, *(f"{v:.1f} ({v / vals[0]:.3f})" if i else f"{v:.1f}" for i, v in enumerate(vals))]
            for label, vals in sweep.items()]
    means = [sum(vals[i] for vals in sweep.values()) / len(sweep) for i in range(len(GAPS_S))]
    rows.append(["mean", *(f"{v:.1f}" for v in means)])
    val_table = table(["2D masked (noisy 2D, level 0.2)", *(f"gaps <= {g:g} s filled" if g else "no filling"
                                                                for g in GAPS_S)], rows)

    test = test_set()
    res = {ck: {label: [mpjpe(test, ck, f, r, g) for g in (0.0, MAX_GAP_S)] for label, f, r in SHAPES}
           for ck in args.checkpoints}
    base = args.checkpoints[0]
    rows = []
    for ck, by_shape in res.items():
        for label, (raw, filled) in by_shape.items():
            ratio = "" if ck == base else f"{raw / res[base][label][0]:.3f} / {filled / res[base][label][1]:.3f}"
            rows.append([ck.name, label, f"{raw:.1f}", f"{filled:.1f}", f"{filled / raw:.3f}", ratio])
    test_table = table(["lifter", "2D masked", "MPJPE as given", f"MPJPE, gaps <= {MAX_GAP_S:g} s filled",
                        "filled / as given", f"/ {base.name} (as given / filled)"], rows)

    body = ("Each joint interpolated linearly across its gaps (confidence 0) of at most the given length, at half "
            "the lower confidence on the two sides (lift3d.tracking.gaps.fill_gaps), before the lifter sees the "
            "2D: what `lift3d infer` does by default (`--fill-gaps`, default "
            f"{MAX_GAP_S:g} s). MPJPE in mm, every view of every sequence.\n\n"
            "Val split, the shipped default lifter, by the longest gap filled (in brackets: ratio to no filling); "
            "the default is chosen here:\n\n" + val_table
            + "\n\nTest split (held-out subjects), without and with the default filling:\n\n" + test_table)
    write_section("gap_filling", "Gap filling before lifting (masked 2D)", body)
    print(body)


if __name__ == "__main__":
    main()
