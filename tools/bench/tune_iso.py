"""How the ISO defaults (configs/iso.yaml) were chosen: candidates on the val split, in-domain and shifted.

    python tools/bench/tune_iso.py [--threads 1]

Every third val sequence, from camera i mod 4, the 80 frames at its middle (as tools/bench/bench_iso.py does on
the test split): the shipped lifter's 3D from noisy 2D with 30% of joints masked (in-domain val set), and from
the val split seen like the shifted test set (cameras 2.6-3.4 m high, 85-100 degree field of view, noise 0.5,
30-50% masked). Each candidate is the defaults with a few values changed; the default is the one with the lowest
sum of the two MPJPEs. Writes the section ``iso_tuning`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import shifted_val_set, val_set  # noqa: E402

from lift3d.checkpoint import load_lifter  # noqa: E402
from lift3d.codec import root_relative  # noqa: E402
from lift3d.data.mocap_h5 import read_multiview_h5  # noqa: E402
from lift3d.evaluate import mask_joints  # noqa: E402
from lift3d.infer import lift_sequence  # noqa: E402
from lift3d.iso import IsoConfig, optimise  # noqa: E402

CANDIDATES = ({"rotate": False, "iterations": 300}, {"iterations": 300}, {"iterations": 300, "prior": 1.0}, {},
              {"prior": 0.1}, {"smooth": 3.0}, {"iterations": 1000})


def windows(path: Path, masks: tuple[float, ...], model, codec, window: int = 80) -> list[tuple]:
    rng = np.random.default_rng(0)
    out = []
    for i, s in enumerate(read_multiview_h5(path)[::3]):
        v = i % s.num_views
        conf = mask_joints(s.conf[v], float(rng.choice(masks)), rng)
        truth = root_relative(s.pose3d_world_m.astype(np.float64) @ s.cameras["R"][v].T + s.cameras["t"][v])
        pred = lift_sequence(s.kp2d_px[v], conf, model, codec).numpy()
        a = max(0, (s.num_frames - window) // 2)
        w = slice(a, a + window)
        out.append((pred[w], s.kp2d_px[v][w], conf[w], s.cameras["K"][v], s.fps, truth[w]))
    return out


def mpjpe_mm(items: list[tuple], cfg: IsoConfig | None) -> float:
    err = n = 0.0
    for pred, kp, conf, K, fps, truth in items:
        pose = pred if cfg is None else optimise(pred, kp, conf, K, fps, cfg).pose3d_cam_m
        err += np.linalg.norm(pose - truth, axis=-1).mean() * len(truth)
        n += len(truth)
    return 1000 * err / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, codec, _ = load_lifter(None)
    sets = {"in-domain (noisy + 30% masked)": windows(val_set(), (0.3,), model, codec),
            "shifted": windows(shifted_val_set(), (0.3, 0.4, 0.5), model, codec)}
    base = {name: mpjpe_mm(items, None) for name, items in sets.items()}
    rows = [["no ISO", *base.values(), "", "", sum(base.values())]]
    for change in CANDIDATES:
        cfg = dataclasses.replace(IsoConfig(), **change)
        errs = {name: mpjpe_mm(items, cfg) for name, items in sets.items()}
        label = ", ".join(f"{k}={v}" for k, v in change.items()) or "defaults (configs/iso.yaml)"
        rows.append([label, *errs.values(), *(f"{errs[n] / base[n]:.3f}" for n in sets), sum(errs.values())])
        print(rows[-1], flush=True)
    d = IsoConfig()
    body = (f"Defaults: {d.iterations} iterations, prior {d.prior:g}, bone {d.bone:g}, smooth {d.smooth:g}, rotate "
            f"{d.rotate}. Val split, every third sequence from one camera, 80 frames each "
            f"({sum(len(i[-1]) for i in sets['shifted'])} frames per set). MPJPE mm.\n\n"
            + table(["ISO settings (changes to the defaults)", *(f"MPJPE {n}" for n in sets),
                     *(f"ratio {n}" for n in sets), "sum"], rows))
    write_section("iso_tuning", "ISO settings chosen on the val split", body)
    print(body)


if __name__ == "__main__":
    main()
