"""Accuracy of a lifter on the held-out subjects: clean 2D, noisy 2D, noisy 2D with 30% of joints masked.

    python tools/bench/bench_lifter_eval.py [--checkpoint CKPT] [--against OTHER_CKPT]

Writes the section ``lifter_eval`` of BENCHMARKS.md: overall figures per condition, then per dataset and
per held-out sequence (CMU) or subject (ACCAD Male2, UI-PRMD s09/s10), averaged over the 4 views. With
``--against``, the other checkpoint is evaluated in the same run and a last table gives the ratios
(checkpoint / other) overall and per dataset: what a replacement of a shipped checkpoint is decided on.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import table, write_section  # noqa: E402
from testsets import CONDITIONS, test_set  # noqa: E402

from lift3d.checkpoint import DEFAULT_LIFTER  # noqa: E402
from lift3d.evaluate import evaluate_file  # noqa: E402



def group_mean(per_seq: list[dict], key_fn) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in per_seq:
        groups[key_fn(s)].append(s)
    out = {}
    for k, items in sorted(groups.items()):
        frames = sum(i["frames"] for i in items)
        out[k] = {m: sum(i[m] * i["frames"] for i in items) / frames for m in ("mpjpe_mm", "p_mpjpe_mm")} | {"frames": frames}
    return out


def against_table(results: dict, other: dict, other_path: Path, dataset_of) -> list[str]:
    """Body lines: the other checkpoint's MPJPE / P-MPJPE and the ratios to it, overall and per dataset."""
    rows = []
    for name, r in results.items():
        theirs = group_mean(other[name]["per_sequence"], dataset_of)
        groups = {"all": (r, other[name])} | {k: (v, theirs[k]) for k, v in group_mean(r["per_sequence"], dataset_of).items()}
        for k, (a, b) in groups.items():
            rows.append([name, k, b["mpjpe_mm"], a["mpjpe_mm"], f"{a['mpjpe_mm'] / b['mpjpe_mm']:.3f}",
                         b["p_mpjpe_mm"], a["p_mpjpe_mm"], f"{a['p_mpjpe_mm'] / b['p_mpjpe_mm']:.3f}"])
    new, old = results["clean"]["checkpoint_id"], other["clean"]["checkpoint_id"]
    return [f"Against `{other_path.name}` (id {old}), evaluated in the same run; ratio = {new} / {old}:\n",
            table(["2D input", "data", f"MPJPE {old}", f"MPJPE {new}", "ratio", f"P-MPJPE {old}", f"P-MPJPE {new}",
                   "ratio"], rows), ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_LIFTER)
    ap.add_argument("--against", type=Path, help="another checkpoint to compare with, in the same run")
    args = ap.parse_args()
    data = test_set()

    def evaluate(checkpoint: Path) -> dict:
        return {name: evaluate_file(data, checkpoint, input_2d=inp, mask=mask, seed=0) for name, inp, mask in CONDITIONS}

    results = evaluate(args.checkpoint)
    rows = [[name, r["mpjpe_mm"], r["p_mpjpe_mm"], r["n_mpjpe_mm"], r["mpjve_mm"], f"{r['pck3d']:.3f}", f"{r['auc']:.3f}", r["frames"]]
            for name, r in results.items()]
    body = [f"Checkpoint `{args.checkpoint.relative_to(Path.cwd()) if args.checkpoint.is_relative_to(Path.cwd()) else args.checkpoint}` "
            f"(id {results['clean']['checkpoint_id']}); test set: every held-out subject (CMU 11, 131, 135; ACCAD Male2; "
            "UI-PRMD s09, s10) seen by 4 virtual cameras at 30 fps, detector-like 2D noise level 0.2; each view lifted "
            "on its own. mm, root-relative, camera frame.\n",
            table(["2D input", "MPJPE", "P-MPJPE", "N-MPJPE", "MPJVE", "PCK3D@150", "AUC", "frames"], rows), ""]

    def dataset_of(s):
        return s["sequence"].split("__")[0]

    def seq_or_subject(s):
        return s["sequence"].split("__")[-1] if s["sequence"].startswith("cmu") else s["subject"]

    per = {name: r["per_sequence"] for name, r in results.items()}
    for title, key_fn in (("Per dataset", dataset_of), ("Per held-out sequence (CMU) or subject", seq_or_subject)):
        groups = {name: group_mean(p, key_fn) for name, p in per.items()}
        keys = list(groups["clean"])
        rows = [[k, *(v for name in groups for v in (groups[name][k]["mpjpe_mm"], groups[name][k]["p_mpjpe_mm"])), groups["clean"][k]["frames"]]
                for k in keys]
        header = ["", *(f"{n} {m}" for n in groups for m in ("MPJPE", "P-MPJPE")), "frames"]
        body += [f"{title}:\n", table(header, rows), ""]
    if args.against is not None:
        body += against_table(results, evaluate(args.against), args.against, dataset_of)
    write_section("lifter_eval", "Temporal lifter accuracy on held-out subjects", "\n".join(body))
    for name, r in results.items():
        print(f"{name}: MPJPE {r['mpjpe_mm']:.1f} P-MPJPE {r['p_mpjpe_mm']:.1f}")


if __name__ == "__main__":
    main()
