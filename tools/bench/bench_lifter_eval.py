"""Accuracy of a lifter on the held-out subjects: clean 2D, noisy 2D, noisy 2D with 30% of joints masked.

    python tools/bench/bench_lifter_eval.py [--checkpoint CKPT]

Writes the section ``lifter_eval`` of BENCHMARKS.md: overall figures per condition, then per dataset and
per held-out sequence (CMU) or subject (ACCAD Male2, UI-PRMD s09/s10), averaged over the 4 views.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_LIFTER)
    args = ap.parse_args()
    data = test_set()
    results = {name: evaluate_file(data, args.checkpoint, input_2d=inp, mask=mask, seed=0) for name, inp, mask in CONDITIONS}
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
    write_section("lifter_eval", "Temporal lifter accuracy on held-out subjects", "\n".join(body))
    for name, r in results.items():
        print(f"{name}: MPJPE {r['mpjpe_mm']:.1f} P-MPJPE {r['p_mpjpe_mm']:.1f}")


if __name__ == "__main__":
    main()
