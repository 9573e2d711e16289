"""The spatio-temporal pose discriminator: accuracy, and lifters trained with and without it.

    python tools/bench/bench_discriminator.py [--epochs 8] [--frames 50000] [--weight 0.02] [--threads 2]

1. Two temporal lifters from configs/tcn_baseline_81.yaml, same data, seed and budget (``--epochs`` x
   ``--frames`` windows, runs of 4 consecutive frames per sample), one with the adversarial term
   (``loss.adversarial=--weight``) and one without, trained one after the other (resumable: runs/bench_discriminator).
2. Both, and the shipped lifter, on the held-out test set (every view of every sequence, noisy 2D with 30% of
   joints masked, and clean 2D): MPJPE, P-MPJPE, MPJVE (mm), and plausibility: bone-length standard deviation
   over each sequence (mm, mean over bones), joint-angle violations (% of angle values outside the 0.1-99.9%
   range of the train split's mocap), foot skating (mm of ankle slide per frame while the reference foot is
   planted; the prediction placed on the reference's root trajectory). The mocap itself for reference.
3. Discriminator accuracy on the test set (real = mocap, fake = a lifter's 3D; every frame, classes counted
   equally): the adversarial run's discriminator against its own lifter, and the shipped scorer
   (``--scorer``, default checkpoints/pose_discriminator.pt or runs/pose_discriminator/best.pt) against the
   shipped lifter, with its mean plausibility score of each row.

Writes the section ``discriminator`` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import test_set  # noqa: E402

from lift3d.checkpoint import (DEFAULT_DISCRIMINATOR, DEFAULT_LIFTER, checkpoint_id, load_discriminator,  # noqa: E402
                               load_lifter)
from lift3d.codec import root_relative  # noqa: E402
from lift3d.config import load_config  # noqa: E402
from lift3d.data.mocap_h5 import read_multiview_h5  # noqa: E402
from lift3d.evaluate import mask_joints  # noqa: E402
from lift3d.infer import lift_sequence  # noqa: E402
from lift3d.metrics import mpjve, p_mpjpe  # noqa: E402
from lift3d.plausibility import angle_limits, angle_violations, bone_length_std, foot_contacts, foot_skating  # noqa: E402
from lift3d.train.data import DataConfig, load_split  # noqa: E402
from lift3d.train.trainer import TrainConfig, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "runs" / "bench_discriminator"


def train_arms(args) -> dict[str, Path]:
    arms = {}
    for name, weight in (("without discriminator", 0.0), ("with discriminator", args.weight)):
        tag = "adv" if weight else "plain"
        cfg = load_config(TrainConfig, ROOT / "configs" / "tcn_baseline_81.yaml", [
            f"name=disc_ablation_{tag}", f"out_dir={OUT}/{{name}}", f"optim.epochs={args.epochs}",
            f"data.frames_per_epoch={args.frames}", "data.sample_frames=4", f"loss.adversarial={weight}",
            f"threads={args.threads}"])
        train(cfg, progress=True)
        arms[name] = OUT / cfg.name / "best.pt"
    return arms


@torch.no_grad()
def judge_frames(judge, seqs: list[np.ndarray]) -> np.ndarray:
    """Logits of every frame of every sequence: one array."""
    return np.concatenate([judge(torch.from_numpy(s.astype(np.float32))[None])[0].numpy() for s in seqs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--frames", type=int, default=50000)
    ap.add_argument("--weight", type=float, default=0.02)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scorer", type=Path)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    arms = train_arms(args)
    lifters = {"shipped lifter": DEFAULT_LIFTER, **arms}
    limits = angle_limits([c.pose3d_world_m[::5].astype(np.float64) for c in load_split(DataConfig(), "train")])

    seqs = read_multiview_h5(test_set())
    rng = np.random.default_rng(0)
    masks = {(i, v): mask_joints(s.conf[v], 0.3, rng) for i, s in enumerate(seqs) for v in range(s.num_views)}
    truth, world_truth, contacts, cams = [], [], [], []
    for s in seqs:
        for v in range(s.num_views):
            cam = s.pose3d_world_m.astype(np.float64) @ s.cameras["R"][v].T + s.cameras["t"][v]
            truth.append(root_relative(cam))
            world_truth.append(s.pose3d_world_m.astype(np.float64))
            contacts.append(foot_contacts(s.pose3d_world_m.astype(np.float64), s.fps))
            cams.append((cam[:, :1], s.cameras["R"][v], s.cameras["t"][v]))

    def plausibility_row(preds):
        bone = np.mean([bone_length_std(p).mean() for p in preds]) * 1000
        viol = 100 * np.average([angle_violations(p, limits) for p in preds], weights=[len(p) for p in preds])
        skate = []
        for p, (root, R, t), c in zip(preds, cams, contacts):
            world = (p + root - t) @ R  # camera -> world: R^T (x - t)
            skate.append(foot_skating(world, c))
        return bone, viol, 1000 * np.nanmean(skate)

    preds, rows, ids = {}, [], {}
    for name, ck in lifters.items():
        model, codec, _ = load_lifter(ck)
        ids[name] = checkpoint_id(model.state_dict())
        out = {}
        for cond in ("noisy + 30% masked", "clean"):
            ps = []
            for i, s in enumerate(tqdm(seqs, desc=f"{name}, {cond}", unit="seq")):
                for v in range(s.num_views):
                    kp = s.kp2d_px[v] if cond != "clean" else s.kp2d_clean_px[v]
                    conf = masks[(i, v)] if cond != "clean" else np.ones(s.conf[v].shape, np.float32)
                    ps.append(lift_sequence(kp, conf, model, codec).numpy().astype(np.float64))
            out[cond] = ps
        preds[name] = out
        acc = []
        for cond in ("noisy + 30% masked", "clean"):
            ps = out[cond]
            n = sum(len(p) for p in ps)
            mp = sum(np.linalg.norm(p - t, axis=-1).mean() * len(p) for p, t in zip(ps, truth)) / n
            pm = sum(float(p_mpjpe(torch.from_numpy(p), torch.from_numpy(t)).mean()) * len(p) for p, t in zip(ps, truth)) / n
            acc += [1000 * mp, 1000 * pm]
        ps = out["noisy + 30% masked"]
        ve = sum(float(mpjve(torch.from_numpy(p), torch.from_numpy(t)).mean()) * (len(p) - 1)
                 for p, t in zip(ps, truth) if len(p) > 1) / sum(len(p) - 1 for p in ps)
        rows.append([name, *acc, 1000 * ve, *plausibility_row(ps)])
    rows.append(["mocap (reference)", "", "", "", "", "", *plausibility_row(truth)])

    acc_rows = []
    adv_judge, _ = load_discriminator(arms["with discriminator"])
    real = judge_frames(adv_judge, truth)
    fake = judge_frames(adv_judge, preds["with discriminator"]["noisy + 30% masked"])
    f3 = lambda x: f"{x:.3f}"  # noqa: E731
    acc_rows.append(["adversarial run's own discriminator vs its lifter",
                     *map(f3, (0.5 * ((real > 0).mean() + (fake <= 0).mean()), (real > 0).mean(), (fake <= 0).mean())),
                     "", "", "", ""])
    scorer = args.scorer or (DEFAULT_DISCRIMINATOR if DEFAULT_DISCRIMINATOR.is_file()
                             else ROOT / "runs" / "pose_discriminator" / "best.pt")
    judge, _ = load_discriminator(scorer)
    real = judge_frames(judge, truth)
    scores = {n: judge_frames(judge, preds[n]["noisy + 30% masked"]) for n in lifters}
    fake = scores["shipped lifter"]
    sig = lambda x: float((1 / (1 + np.exp(-x))).mean())  # noqa: E731
    acc_rows.append([f"scorer `{scorer.relative_to(ROOT) if scorer.is_relative_to(ROOT) else scorer}` vs the shipped lifter",
                     *map(f3, (0.5 * ((real > 0).mean() + (fake <= 0).mean()), (real > 0).mean(), (fake <= 0).mean(),
                               sig(real), *(sig(scores[n]) for n in lifters)))])
    body = (
        f"Lifters: configs/tcn_baseline_81.yaml trained {args.epochs} epochs x {args.frames} windows (runs of 4 "
        f"frames), same seed and data, with and without the adversarial term (weight {args.weight:g}); the shipped "
        f"lifter (`{ids['shipped lifter']}`) for reference. Held-out test set, every view of every sequence "
        f"({sum(len(t) for t in truth)} frames). MPJPE etc. in mm; plausibility on the noisy + 30% masked "
        "condition.\n\n"
        + table(["lifter", "MPJPE noisy+masked", "P-MPJPE noisy+masked", "MPJPE clean", "P-MPJPE clean",
                 "MPJVE noisy+masked", "bone-length std mm", "angle violations %", "foot skating mm/frame"], rows)
        + "\n\nDiscriminator accuracy on the same frames (real: the mocap; fake: the lifter's 3D from noisy + 30% "
        "masked 2D), and the scorer's mean plausibility (probability of real) per source. The scorer was trained "
        "against corrupted mocap, never against a lifter, so its 'fake judged fake' is the share of the shipped "
        "lifter's frames it finds implausible.\n\n"
        + table(["discriminator", "accuracy", "real judged real", "fake judged fake", "score: mocap",
                 *(f"score: {n}" for n in lifters)], acc_rows)
        + (f"\n\n{args.note}" if args.note else "")
    )
    write_section("discriminator", "Pose discriminator: accuracy and adversarial training", body)
    print(body)


if __name__ == "__main__":
    main()
