"""The catalogue of usable mocap takes in ``shared/data``, with subject, action, split and proportion flags.

Everything that decides membership is a table at the top of this module: the split per dataset
(``shared/data/README.md``), the files left out and why, and the files whose bone lengths are not the
performer's. :func:`catalog_files` accounts for every file in the dataset folders: each is a clip, a
clip's companion (an ASF beside its AMC), or excluded with a reason.

Adding a dataset (e.g. UI-PRMD) = a scanner ``(dataset_dir) -> list[ClipInfo | Excluded]`` in
:data:`SCANNERS`, its split in :data:`SPLIT_TABLE`, and a reader for its file type in
``lift3d.mocap.loader``.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from lift3d.errors import InputError
from lift3d.mocap.clip import ClipInfo
from lift3d.paths import shared_data_dir

log = logging.getLogger(__name__)

#: Subjects of the test and validation splits per dataset; every other subject is train.
SPLIT_TABLE: dict[str, dict[str, frozenset[str]]] = {
    "cmu_mocap": {"test": frozenset({"cmu:11", "cmu:131", "cmu:135"}), "val": frozenset({"cmu:55", "cmu:141"})},
    "accad_mocap": {"test": frozenset({"accad:Male2"})},
    "cmu_salsa_daz": {},
    "ui_prmd_vicon": {"test": frozenset({"ui_prmd:s09", "ui_prmd:s10"}), "val": frozenset({"ui_prmd:s08"})},
}

#: Files (glob patterns relative to the data folder) left out of the catalogue, with the reason.
EXCLUDED: dict[str, str] = {
    "*/SOURCE.md": "documentation",
    "*/SHA256SUMS": "checksums",
    "*/*.csv": "clip list (metadata)",
    "cmu_mocap/amp_retargeted_npy/*": "NVIDIA AMP retargets of the bvh_mb_fbx_isaac clips onto one humanoid: "
                                      "duplicates of those takes, without the subjects' skeletons",
    "cmu_mocap/bvh_mb/01_01.bvh": "same take as asf_amc/01_01.amc; the ASF/AMC original is kept because cgspeed's "
                                  "BVH drops the thorax bone (arms and head 0.117 m lower relative to the hips)",
    "accad_mocap/c3d_female1/*": "raw Vicon markers, no joint centres; the same takes are in bvh_female1",
}

#: Files whose bone lengths are not the performer's (``ClipInfo.proportions_valid = False``), with the reason.
PROPORTIONS_INVALID: dict[str, str] = {
    "cmu_mocap/bvh_daz_*/*": "cgspeed Daz release: every subject retargeted onto one fixed figure",
    "cmu_salsa_daz/*/*": "cgspeed Daz release: every subject retargeted onto one fixed figure",
    "accad_mocap/bvh_female1/*": "badly fitted skeleton (upper arm shorter than forearm, ~10 % small)",
    # Found here: these four re-saved cgspeed files carry subject 1's skeleton (every OFFSET equals
    # bvh_mb/01_01.bvh and asf_amc/01.asf to 6 digits) with zeroed End Sites, not their performer's.
    "cmu_mocap/bvh_mb/02_01.bvh": "carries subject 1's skeleton, not subject 2's",
    "cmu_mocap/bvh_mb/05_06.bvh": "carries subject 1's skeleton, not subject 5's",
    "cmu_mocap/bvh_motionedit/16_11.bvh": "carries subject 1's skeleton, not subject 16's",
    "cmu_mocap/bvh_motionedit/141_16.bvh": "carries subject 1's skeleton, not subject 141's",
}

#: CMU descriptions of the first staged subset (``cmu_mocap/SOURCE.md``, "Files"); later additions are in
#: ``clips_added.csv``.
CMU_ORIGINAL_ACTIONS: dict[str, str] = {
    "asf_amc/01_01.amc": "playground - forward jumps, turn around",
    "bvh_mb/01_01.bvh": "playground - forward jumps, turn around",
    "bvh_mb/02_01.bvh": "walk",
    "bvh_mb/05_06.bvh": "dance - cartwheel-like start, pirouettes, jete",
    "bvh_max/131_01.bvh": "Start Walk Stop",
    "bvh_max/131_02.bvh": "Start Walk Stop",
    "bvh_max/131_03.bvh": "Start Hop Stop",
    "asf_amc/11_01.amc": "soccer - kick ball",
}

MOCAP_DATASETS = ("cmu_mocap", "accad_mocap", "cmu_salsa_daz")


@dataclass(frozen=True)
class Excluded:
    """A file deliberately left out of the catalogue."""

    path: Path
    reason: str


def split_of(dataset: str, subject: str) -> str:
    """``train``/``val``/``test`` of a dataset-qualified subject; a multi-subject id (``cmu:60/61``) takes
    the strictest split of its members so that no test subject leaks into training."""
    table = SPLIT_TABLE.get(dataset)
    if table is None:
        raise InputError(f"no split table for dataset {dataset!r}; known: {sorted(SPLIT_TABLE)}")
    prefix, _, ids = subject.partition(":")
    members = [f"{prefix}:{s}" for s in ids.split("/")]
    for split in ("test", "val"):
        if any(m in table.get(split, ()) for m in members):
            return split
    return "train"


def _match(rel: str, table: dict[str, str]) -> str | None:
    return next((reason for pattern, reason in table.items() if fnmatchcase(rel, pattern)), None)


def _clip(root: Path, path: Path, dataset: str, subject: str, action: str) -> ClipInfo:
    rel = path.relative_to(root).as_posix()
    return ClipInfo(path=path, dataset=dataset, subject=subject, action=action, split=split_of(dataset, subject),
                    proportions_valid=_match(rel, PROPORTIONS_INVALID) is None)


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise InputError(f"cannot read clip list: {e.strerror or e}", path) from None


def _cmu_subject(text: str) -> str:
    """``"7"`` -> ``cmu:07``, ``"60/61"`` -> ``cmu:60/61``."""
    return "cmu:" + "/".join(f"{int(s):02d}" for s in text.split("/"))


def _scan_cmu(folder: Path) -> list[ClipInfo | Excluded]:
    root = folder.parent
    added = {}
    for row in _read_csv(folder / "clips_added.csv"):
        name = row["file"].split()[0]  # "35_01.amc (+35.asf)" -> "35_01.amc"
        added[f"{row['folder']}/{name}"] = (_cmu_subject(row["subject"]), row["cmu_description"])
    out: list[ClipInfo | Excluded] = []
    for path in sorted(folder.glob("*/*")):
        rel = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in (".bvh", ".amc"):
            continue  # .asf companions, npy and metadata: accounted for by catalog_files
        if rel in added:
            subject, action = added[rel]
        elif rel in CMU_ORIGINAL_ACTIONS:
            subject, action = _cmu_subject(path.stem.split("_")[0]), CMU_ORIGINAL_ACTIONS[rel]
        else:
            raise InputError("mocap file not in clips_added.csv nor in SOURCE.md's list; add it to the catalogue",
                             path)
        out.append(_clip(root, path, "cmu_mocap", subject, action))
    return out


def _scan_accad(folder: Path) -> list[ClipInfo | Excluded]:
    out: list[ClipInfo | Excluded] = []
    for row in _read_csv(folder / "clips.csv"):
        path = folder / row["file"]
        out.append(_clip(folder.parent, path, "accad_mocap", f"accad:{row['subject']}", row["action"]))
    return out


def _scan_salsa(folder: Path) -> list[ClipInfo | Excluded]:
    out: list[ClipInfo | Excluded] = []
    for path in sorted(folder.glob("*/*.bvh")):
        m = re.fullmatch(r"(\d+)_(\d+)_scaled", path.stem)
        if m is None:
            raise InputError("unexpected file name; expected <subject>_<trial>_scaled.bvh", path)
        out.append(_clip(folder.parent, path, "cmu_salsa_daz", _cmu_subject(m.group(1)), "salsa dance"))
    return out


#: Dataset folder name -> scanner listing its clips. UI-PRMD (``ui_prmd_vicon``) plugs in here.
SCANNERS: dict[str, Callable[[Path], list[ClipInfo | Excluded]]] = {
    "cmu_mocap": _scan_cmu,
    "accad_mocap": _scan_accad,
    "cmu_salsa_daz": _scan_salsa,
}


def catalog_files(
    data_dir: Path | None = None, datasets: Sequence[str] = MOCAP_DATASETS
) -> tuple[list[ClipInfo], list[Excluded]]:
    """Clips and deliberately excluded files of ``datasets`` under ``data_dir`` (default ``shared/data``).

    Every file under each dataset folder is either a clip's file, an ASF used by a listed AMC, or in the
    excluded list; anything else raises :class:`InputError` so that new files are not silently ignored.
    """
    root = Path(data_dir) if data_dir is not None else shared_data_dir()
    clips: list[ClipInfo] = []
    excluded: list[Excluded] = []
    for dataset in datasets:
        if dataset not in SCANNERS:
            raise InputError(f"unknown mocap dataset {dataset!r}; known: {sorted(SCANNERS)}")
        folder = root / dataset
        if not folder.is_dir():
            raise InputError("dataset folder not found", folder)
        listed = set()
        for item in SCANNERS[dataset](folder):
            if not item.path.is_file():
                raise InputError("listed in the clip list but missing", item.path)
            listed.add(item.path)
            if isinstance(item, Excluded):
                excluded.append(item)
                continue
            reason = _match(item.path.relative_to(root).as_posix(), EXCLUDED)
            if reason is None:
                clips.append(item)
            else:
                excluded.append(Excluded(item.path, reason))
        companions = {c.path.with_name(c.path.stem.split("_")[0] + ".asf") for c in clips if c.path.suffix == ".amc"}
        companions |= {e.path.with_name(e.path.stem.split("_")[0] + ".asf") for e in excluded
                       if e.path.suffix == ".amc"}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path in listed or path in companions:
                continue
            reason = _match(path.relative_to(root).as_posix(), EXCLUDED)
            if reason is None:
                raise InputError("file is neither a catalogued clip nor excluded with a reason", path)
            excluded.append(Excluded(path, reason))
    return clips, excluded


def catalog(data_dir: Path | None = None, datasets: Sequence[str] = MOCAP_DATASETS) -> list[ClipInfo]:
    """Every usable mocap take of ``datasets`` (see :func:`catalog_files`), in a stable order."""
    clips, excluded = catalog_files(data_dir, datasets)
    log.debug("catalogue: %d clips, %d files excluded", len(clips), len(excluded))
    return clips
