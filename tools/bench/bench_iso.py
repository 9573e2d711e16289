"""Inference-stage optimisation (ISO): the shipped lifter with and without ``lift3d.iso.optimise``.

    python tools/bench/bench_iso.py [--window 80] [--threads 1]

1. Held-out mocap subjects (tools/bench/testsets.py), in-domain (clean, noisy, noisy + 30% masked 2D) and under
   domain shift (cameras higher and wider than training ever drew, 2D noise 0.5, 30-50% of joints masked).
   Each sequence is seen from one of its 4 cameras (sequence i from camera i mod 4); the lifter sees the whole
   sequence, ISO the ``--window`` frames at its middle, with the camera's intrinsics. MPJPE, P-MPJPE, MPJVE
   (mm) on those frames, and the median reprojection error (px; without ISO the root is the closed-form
   least-squares one, :func:`lift3d.iso.solve_root`).
2. Pose2Sim's real views (BlazePose 2D, the calibration's intrinsics and distortion): P-MPJPE against the
   reference TRC, the pelvis's place in each camera against the reference's mid-hips, and the median
   reprojection error.
3. ISO's cost in ms per frame on this CPU, 1 and 2 threads, on a 600-frame sequence.

ISO settings: the defaults (configs/iso.yaml), chosen on the val split (tools/bench/tune_iso.py). Writes the section ``iso`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_selfsup_real import CAMS, pose2sim_tracked, reference_in_cameras  # noqa: E402
from report import table, write_section  # noqa: E402
from testsets import shifted_test_set, test_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER, load_lifter  # noqa: E402
from lift3d.codec import root_relative  # noqa: E402
from lift3d.data.mocap_h5 import read_multiview_h5  # noqa: E402
from lift3d.evaluate import mask_joints  # noqa: E402
from lift3d.infer import infer, lift_sequence  # noqa: E402
from lift3d.iso import IsoConfig, closed_form_root, median_reprojection_px, optimise  # noqa: E402
from lift3d.metrics import mpjve, p_mpjpe  # noqa: E402
from lift3d.skeletons import H36M17  # noqa: E402


def mocap_condition(path: Path, input_2d: str, masks: tuple[float, ...], cfg: IsoConfig, window: int,
                    seq_step: int = 1, seed: int = 0) -> dict:
    """Errors with and without ISO over one window of one view of every ``seq_step``-th sequence of ``path``
    (sequence i from camera i mod 4). One thread; the conditions run in parallel processes."""
    torch.set_num_threads(1)
    model, codec, _ = load_lifter(None)
    rng = np.random.default_rng(seed)
    sums = {k: 0.0 for k in ("net", "iso", "net_p", "iso_p", "net_v", "iso_v")}
    frames, vframes, reproj = 0, 0, {"net": [], "iso": []}
    seqs = read_multiview_h5(path)
    for i, s in enumerate(tqdm(seqs, desc=f"iso {path.stem} {input_2d} {masks}", unit="seq")):
        if i % seq_step:
            continue
        v = i % s.num_views
        kp = s.kp2d_clean_px[v] if input_2d == "clean" else s.kp2d_px[v]
        conf = np.ones(s.conf[v].shape, np.float32) if input_2d == "clean" else s.conf[v]
        conf = mask_joints(conf, float(rng.choice(masks)), rng)
        truth = root_relative(s.pose3d_world_m.astype(np.float64) @ s.cameras["R"][v].T + s.cameras["t"][v])
        pred = lift_sequence(kp, conf, model, codec).numpy()
        a = max(0, (s.num_frames - window) // 2)
        w = slice(a, a + window)
        res = optimise(pred[w], kp[w], conf[w], s.cameras["K"][v], s.fps, cfg)
        T = len(truth[w])
        for key, p in (("net", pred[w]), ("iso", res.pose3d_cam_m)):
            p64, t64 = torch.from_numpy(p.astype(np.float64)), torch.from_numpy(truth[w])
            sums[key] += float(np.linalg.norm(p64 - t64, axis=-1).mean()) * T
            sums[f"{key}_p"] += float(p_mpjpe(p64, t64).mean(-1).sum())
            if T >= 2:
                sums[f"{key}_v"] += float(mpjve(p64, t64).mean()) * (T - 1)
        frames += T
        vframes += max(T - 1, 0)
        reproj["net"].append(res.reproj_px_before)
        reproj["iso"].append(res.reproj_px_after)
    out = {}
    for key in ("net", "iso"):
        out[key] = {"mpjpe": 1000 * sums[key] / frames, "p_mpjpe": 1000 * sums[f"{key}_p"] / frames,
                    "mpjve": 1000 * sums[f"{key}_v"] / vframes, "reproj": float(np.nanmedian(reproj[key]))}
    out["frames"] = frames
    return out


def pose2sim(cfg: IsoConfig) -> dict:
    """Per view: P-MPJPE (mm) vs the reference, pelvis placement error (mm), median reprojection (px)."""
    tracks, views, cams = pose2sim_tracked()
    joints, ref_cam, _ = reference_in_cameras(cams)
    hips = [joints.index(H36M17.joints.index(j)) for j in ("r_hip", "l_hip")]
    out = {"net": [], "iso": []}
    for v, (kp, ref) in enumerate(zip(tracks, ref_cam)):
        K, dist = cams.K[v].numpy(), cams.dist[v].numpy()
        plain = infer(kp)
        h = kp.to_h36m()
        closed = closed_form_root(plain.pose3d_cam_m, h.kp2d_px, h.conf, K, dist)
        placed = infer(kp, iso=cfg, camera_K=K, camera_dist=dist)
        pelvis = ref[:, hips].mean(axis=1)  # (T, 3) the reference's mid-hips in this camera
        ref_t = torch.from_numpy(ref)
        for key, pose, root in (("net", plain.pose3d_cam_m, closed), ("iso", placed.pose3d_cam_m, placed.root_cam_m)):
            reproj = median_reprojection_px(pose, root, h.kp2d_px, h.conf, K, dist)
            pm = 1000 * float(p_mpjpe(torch.from_numpy(pose[:, joints].astype(np.float64)), ref_t).mean())
            place = 1000 * float(np.median(np.linalg.norm(root - pelvis, axis=-1)))
            out[key].append((pm, place, reproj, float(np.median(np.linalg.norm(pelvis, axis=-1)))))
    return out


def cost_ms_per_frame(path: Path, model, codec, cfg: IsoConfig, threads: int, frames: int = 600) -> float:
    s = max(read_multiview_h5(path), key=lambda q: q.num_frames)
    kp, conf = s.kp2d_px[0][:frames], s.conf[0][:frames]
    pred = lift_sequence(kp, conf, model, codec).numpy()
    torch.set_num_threads(threads)
    t = time.perf_counter()
    optimise(pred, kp, conf, s.cameras["K"][0], s.fps, cfg)
    return 1000 * (time.perf_counter() - t) / len(kp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--window", type=int, default=80, help="frames per sequence given to ISO")
    ap.add_argument("--threads", type=int, default=1, help="threads of the Pose2Sim part and the cost's first row")
    ap.add_argument("--seq-step", type=int, default=1, help="every n-th test sequence")
    ap.add_argument("--jobs", type=int, default=2, help="mocap conditions run in this many processes at once")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = IsoConfig()
    model, codec, _ = load_lifter(None)
    sets = [("in-domain, clean", test_set(), "clean", (0.0,)),
            ("in-domain, noisy", test_set(), "noisy", (0.0,)),
            ("in-domain, noisy + 30% masked", test_set(), "noisy", (0.3,)),
            ("shifted: high wide cameras, noise 0.5, 30-50% masked", shifted_test_set(), "noisy", (0.3, 0.4, 0.5))]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {name: pool.submit(mocap_condition, path, inp, masks, cfg, args.window, args.seq_step)
                   for name, path, inp, masks in sets}
        res = {name: f.result() for name, f in futures.items()}
    rows = []
    for name, r in res.items():
        n, i = r["net"], r["iso"]
        rows.append([name, r["frames"], n["mpjpe"], i["mpjpe"], f"{i['mpjpe'] / n['mpjpe']:.3f}", n["p_mpjpe"],
                     i["p_mpjpe"], n["mpjve"], i["mpjve"], n["reproj"], i["reproj"]])
    real = pose2sim(cfg)
    real_rows = []
    for key, label in (("net", "shipped lifter (root: closed form)"), ("iso", "shipped lifter + ISO")):
        e = np.array(real[key])  # (V, 4)
        real_rows.append([label, *[f"{x:.1f}" for x in e[:, 0]], e[:, 0].mean(), e[:, 1].mean(), e[:, 2].mean()])
    dist_m = np.mean([x[3] for x in real["net"]])
    cost = {t: cost_ms_per_frame(test_set(), model, codec, cfg, t) for t in (1, 2)}
    torch.set_num_threads(args.threads)
    shifted = res[sets[3][0]]
    gain = 1 - shifted["iso"]["mpjpe"] / shifted["net"]["mpjpe"]
    worst_in = max(r["iso"]["mpjpe"] / r["net"]["mpjpe"] for name, r in res.items() if name.startswith("in-domain"))
    body = (
        f"Shipped lifter `{DEFAULT_LIFTER.name}`, ISO with the default settings (`configs/iso.yaml`: "
        f"{cfg.iterations} L-BFGS iterations, weights reprojection {cfg.reprojection:g}, prior {cfg.prior:g}, "
        f"bone {cfg.bone:g}, smooth {cfg.smooth:g}, rotate {cfg.rotate}). Held-out subjects, "
        f"{ {1: 'every', 2: 'every second'}.get(args.seq_step, f'every {args.seq_step}th') } sequence from one of its cameras, ISO on "
        f"the {args.window} frames at its middle (the lifter sees the whole sequence); the camera's intrinsics. mm, "
        "root-relative, camera frame; reprojection: median px over confident joints (without ISO the root is the "
        "closed-form least-squares one).\n\n"
        + table(["test set", "frames", "MPJPE", "MPJPE + ISO", "ratio", "P-MPJPE", "P-MPJPE + ISO", "MPJVE",
                 "MPJVE + ISO", "reproj px", "reproj px + ISO"], rows)
        + f"\n\nTarget: at least 10% lower MPJPE on the shifted set, no worse in-domain. Measured: {100 * gain:.1f}% "
        f"lower on the shifted set; in-domain the worst ratio is {worst_in:.3f}.\n\n"
        "Pose2Sim balancing trial (4 views x 100 frames, 1080x1920 at 60 fps), BlazePose 2D, each view lifted on its "
        "own with the calibration's intrinsics and distortion (`Calib_qualisys.toml`). P-MPJPE (mm) against the "
        "reference TRC on the 12 limb joints; pelvis: median distance (mm) of the placed root from the reference's "
        f"mid-hips in that camera (the person is {dist_m:.1f} m away on average); reprojection: median px against "
        "the tracker's 2D.\n\n"
        + table(["3D", *(f"P-MPJPE {c}" for c in CAMS), "P-MPJPE mean", "pelvis placement mm", "reproj px"], real_rows)
        + f"\n\nISO cost on this CPU, 600 frames: {cost[1]:.1f} ms per frame with 1 thread, {cost[2]:.1f} with 2."
        + (f"\n\n{args.note}" if args.note else "")
    )
    write_section("iso", "Inference-stage optimisation (ISO)", body)
    print(body)


if __name__ == "__main__":
    main()
