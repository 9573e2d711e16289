"""Summarise UI-PRMD joint centres: frames kept, bone lengths per subject and per movement, s05's pelvis size.

    python tools/inspect_ui_prmd.py [--data shared/data] [--by-movement]

Prints, per subject, the median bone lengths (mm) over all takes and the median / 95th percentile of their
within-take standard deviation, and the frames kept of the total. ``--by-movement`` adds one line per
(subject, movement). The last lines re-derive the stature-based pelvis size used for s05.
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from lift3d.mocap.ui_prmd import fill_gaps, load_ui_prmd_clip, pelvis_size, read_ui_prmd, ui_prmd_catalog
from lift3d.paths import shared_data_dir
from lift3d.skeletons.tables import H36M17

BONES = {"thigh": ("hip", "knee"), "shank": ("knee", "ankle"), "upper_arm": ("shoulder", "elbow"),
         "forearm": ("elbow", "wrist")}
TRAIN_REFERENCE = ("s01", "s02", "s03", "s04", "s06", "s07")


def bone_lengths_mm(pose_m: np.ndarray) -> dict[str, np.ndarray]:
    """``{bone: (T, 2)}`` left/right lengths in millimetres of a ``(T, 17, 3)`` pose."""
    j = {n: i for i, n in enumerate(H36M17.joints)}
    return {b: np.stack([np.linalg.norm(pose_m[:, j[f"{s}_{p}"]] - pose_m[:, j[f"{s}_{c}"]], axis=-1)
                         for s in "lr"], axis=1) * 1000.0 for b, (p, c) in BONES.items()}


def standing_pelvis_ratios(data_dir: Path) -> dict[str, tuple[float, float, float]]:
    """Per subject: stature proxy H (head-marker centre height, first frames of m07, m08, m10), PW, PD (mm)."""
    first = defaultdict(list)
    for info in ui_prmd_catalog(data_dir):
        if info.path.name[:3] in ("m07", "m08", "m10"):
            first[info.subject.split(":")[1]].append(fill_gaps(read_ui_prmd(info.path)[0])[:1])
    out = {}
    for s, frames in sorted(first.items()):
        m = np.concatenate(frames)
        out[s] = (float(np.nanmedian(m[:, :4, 2].mean(axis=1))), *pelvis_size(m))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=shared_data_dir())
    ap.add_argument("--by-movement", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    stats = defaultdict(lambda: defaultdict(list))  # (subject, movement) -> bone -> [(median, std)]
    frames = defaultdict(lambda: [0, 0])
    for info in ui_prmd_catalog(args.data):
        s, mv = info.subject.split(":")[1], info.path.name[:3]
        clip = load_ui_prmd_clip(info)
        frames[s][0] += len(clip.pose3d_world_m)
        frames[s][1] += len(read_ui_prmd(info.path)[0])
        for b, x in bone_lengths_mm(clip.pose3d_world_m).items():
            stats[(s, mv)][b] += [(np.median(x[:, k]), np.std(x[:, k])) for k in range(2)]

    def line(keys):
        cells = []
        for b in BONES:
            v = np.array([t for k in keys for t in stats[k][b]])
            cells.append(f"{np.median(v[:, 0]):5.0f} {np.median(v[:, 1]):4.1f} {np.percentile(v[:, 1], 95):5.1f}")
        return " | ".join(cells)

    print("median length mm, within-take std mm: median, p95 | " + " | ".join(BONES))
    for s in sorted(frames):
        print(f"{s}     {line([k for k in stats if k[0] == s])} | frames {frames[s][0]}/{frames[s][1]}")
        if args.by_movement:
            for k in sorted(k for k in stats if k[0] == s):
                print(f"  {k[1]}  {line([k])}")
    print(f"all     {line(list(stats))} | frames {sum(f[0] for f in frames.values())}/"
          f"{sum(f[1] for f in frames.values())}")

    ratios = standing_pelvis_ratios(args.data)
    pw = np.array([ratios[s][1] / ratios[s][0] for s in TRAIN_REFERENCE])
    pd = np.array([ratios[s][2] / ratios[s][0] for s in TRAIN_REFERENCE])
    h5 = ratios["s05"][0]
    print(f"PW/H {pw.mean():.4f} (sd {pw.std():.4f}), PD/H {pd.mean():.4f} (sd {pd.std():.4f}) over {TRAIN_REFERENCE}")
    print(f"s05: H {h5:.0f} mm -> PW {pw.mean() * h5:.0f} mm, PD {pd.mean() * h5:.0f} mm "
          f"(its markers: PW {ratios['s05'][1]:.0f}, PD {ratios['s05'][2]:.0f})")


if __name__ == "__main__":
    main()
