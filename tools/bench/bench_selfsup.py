"""Self-supervised vs supervised lifter on the same multi-view data (issue: self-supervised training, benchmark 1).

    python tools/bench/bench_selfsup.py [--epochs 8] [--windows 60000] [--threads 1]

Data (built once, cached under runs/selfsup/): every train split of shared/data seen by 4 virtual cameras
with detector-like 2D at noise level 0.2 (`lift3d data build-mocap --split train --views 4 --noise 0.2
--seed 7`), and the val split the same way (seed 8). Two lifters of the same architecture
(configs/selfsup_multiview.yaml's model) are trained by the same trainer (`lift3d.train.selfsup`) on the same
2D windows, views, masking, epochs and seed; only what supervises them differs:

- self-supervised: epipolar labels from `lift3d pseudo-label` (calibrated) plus reprojection into every view,
  multi-view consistency and the bone terms; validated on pseudo-labels of the val split. No 3D ground truth.
- supervised: the true 3D written as labels of confidence 1 (the "oracle" label file made here, never by the
  self-supervised path), the label loss and bone symmetry only; validated on the true 3D of the val split.

Both are evaluated (best validation checkpoint) on the held-out test set of every lifter benchmark
(tools/bench/testsets.py) under clean, noisy and noisy + 30%-masked 2D. Writes the section
``selfsup_lifter`` of BENCHMARKS.md. Runs go to runs/bench_selfsup/ and resume when killed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set  # noqa: E402

from lift3d.config import load_config  # noqa: E402
from lift3d.data.build_mocap import BuildMocapConfig, build_mocap_dataset  # noqa: E402
from lift3d.data.mocap_h5 import read_multiview_h5  # noqa: E402
from lift3d.data.noise_2d import NoiseConfig  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402
from lift3d.multiview.labels import LabelConfig, Labels  # noqa: E402
from lift3d.multiview.labels_h5 import LabelledSequence, read_labels, write_labels  # noqa: E402
from lift3d.multiview.pseudo_label import pseudo_label  # noqa: E402
from lift3d.multiview.views import from_mocap_sequence  # noqa: E402
from lift3d.train.selfsup import SelfSupConfig, train_selfsup  # noqa: E402
from lift3d.train.trainer import run_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "runs" / "selfsup"
SPLITS = {"train": 7, "val": 8}  # split -> build seed


def views_file(split: str) -> Path:
    path = DATA / f"{split}_4views.h5"
    if not path.exists():
        cfg = BuildMocapConfig(split=split, views=4, fps=30.0, seed=SPLITS[split], noise=NoiseConfig(level=0.2))
        build_mocap_dataset(cfg, path)
    return path


def pseudo_labels(split: str) -> Path:
    path = DATA / f"{split}_labels.h5"
    if not path.exists():
        pseudo_label([views_file(split)], path, LabelConfig())
    return path


def oracle_labels(split: str) -> Path:
    """The true 3D of the views file as a label file of confidence 1 (the supervised arm's targets)."""
    path = DATA / f"{split}_oracle_labels.h5"
    if not path.exists():
        out = []
        for seq in read_multiview_h5(views_file(split)):
            views, cams = from_mocap_sequence(seq)
            V, T, J = views.conf.shape
            labels = Labels(pose3d_world_m=seq.pose3d_world_m.astype(np.float64), conf=np.ones((T, J)),
                            frame_valid=np.ones(T, bool), reproj_px=np.zeros((V, T, J)),
                            views_used=np.ones((V, T, J), bool), cameras=cams, calibrated=True)
            out.append(LabelledSequence(seq.name, views, labels))
        write_labels(path, out, config={"oracle": "ground truth of " + views_file(split).name})
    return path


def label_error_mm(labels: Path, oracle: Path) -> tuple[float, float, int]:
    """Mean and median error (mm) of the labelled joints against the true 3D, and the number of sequences."""
    truth = {s.name: s.labels.pose3d_world_m for s in read_labels(oracle)}
    errs = []
    for s in read_labels(labels):
        ok = s.labels.conf > 0
        errs.append(1000 * np.linalg.norm(s.labels.pose3d_world_m - truth[s.name], axis=-1)[ok])
    e = np.concatenate(errs)
    return float(e.mean()), float(np.median(e)), len(errs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--windows", type=int, default=60000, help="frames (windows x frames) per epoch")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    common = [f"optim.epochs={args.epochs}", f"data.windows_per_epoch={args.windows}", f"threads={args.threads}",
              "out_dir=runs/bench_selfsup/{name}"]
    arms = {
        "self-supervised (epipolar labels + reprojection)": [
            "name=selfsup", f"data.labels=[{pseudo_labels('train')}]", f"data.val_labels={pseudo_labels('val')}"],
        "supervised (true 3D)": [
            "name=supervised", f"data.labels=[{oracle_labels('train')}]", f"data.val_labels={oracle_labels('val')}",
            "loss.reprojection=0", "loss.consistency=0", "loss.bone_constancy=0", "loss.monocular=0"],
    }
    ckpts = {}
    for label, overrides in arms.items():
        cfg = load_config(SelfSupConfig, ROOT / "configs" / "selfsup_multiview.yaml", common + overrides)
        train_selfsup(cfg, progress=False)
        ckpts[label] = run_dir(cfg) / "best.pt"
    data = test_set()
    res = {label: {c: evaluate_file(data, ckpt, input_2d=i, mask=m) for c, i, m in CONDITIONS}
           for label, ckpt in ckpts.items()}
    (ss, sup) = res.values()
    rows = [[label, *(r[c]["mpjpe_mm"] for c, _, _ in CONDITIONS), *(r[c]["p_mpjpe_mm"] for c, _, _ in CONDITIONS)]
            for label, r in res.items()]
    rows.append(["self-sup / supervised", *(f"{ss[c]['mpjpe_mm'] / sup[c]['mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS),
                 *(f"{ss[c]['p_mpjpe_mm'] / sup[c]['p_mpjpe_mm']:.3f}" for c, _, _ in CONDITIONS)])
    header = ["lifter", *(f"MPJPE {c}" for c, _, _ in CONDITIONS), *(f"P-MPJPE {c}" for c, _, _ in CONDITIONS)]
    mean, median, n_seq = label_error_mm(pseudo_labels("train"), oracle_labels("train"))
    ratio = ss["noisy"]["mpjpe_mm"] / sup["noisy"]["mpjpe_mm"]
    body = (
        "Same architecture (configs/selfsup_multiview.yaml: multi-stride TCN, strides 1-2-3, 192 channels, 81 frames), "
        f"same trainer, 2D windows, views, masking and seed; {args.epochs} epochs x {args.windows} frames each, from "
        "scratch. Training data: every train split seen by 4 virtual cameras, 2D noise level 0.2 "
        f"({n_seq} sequences). The self-supervised lifter never reads 3D ground "
        f"truth: its labels (calibrated `lift3d pseudo-label`) are {mean:.1f} mm mean / {median:.1f} mm median from "
        "the truth. The supervised one learns the true 3D. Test: held-out subjects (tools/bench/testsets.py), best "
        "validation checkpoint of each. mm.\n\n"
        + table(header, rows)
        + f"\n\nSelf-supervised / supervised MPJPE on noisy 2D: {ratio:.3f} (target: at most 1.25)."
    )
    write_section("selfsup_lifter", "Self-supervised vs supervised lifter (same architecture and multi-view data)", body)
    print(body)


if __name__ == "__main__":
    main()
