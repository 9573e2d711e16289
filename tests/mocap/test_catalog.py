"""The mocap catalogue: every file accounted for, splits per shared/data/README.md, proportion flags."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.bvh import read_bvh
from lift3d.mocap.catalog import SPLIT_TABLE, catalog, catalog_files, split_of


@pytest.fixture(scope="module")
def listing(shared_data):
    return catalog_files(shared_data)


def test_every_file_accounted_for(shared_data, listing):
    clips, excluded = listing
    listed = {c.path for c in clips} | {e.path for e in excluded}
    companions = {c.path.with_name(c.path.stem.split("_")[0] + ".asf") for c in clips if c.path.suffix == ".amc"}
    for dataset in ("cmu_mocap", "accad_mocap", "cmu_salsa_daz"):
        files = {p for p in (shared_data / dataset).rglob("*") if p.is_file()}
        missing = sorted(str(p) for p in files - listed - companions)
        assert not missing, missing
    assert len({c.path for c in clips}) == len(clips), "a file is listed twice"
    assert not ({c.path for c in clips} & {e.path for e in excluded})
    assert all(e.reason for e in excluded)


def test_counts(listing):
    clips, excluded = listing
    per = Counter(c.dataset for c in clips)
    assert per == {"cmu_mocap": 43, "accad_mocap": 295, "cmu_salsa_daz": 8}, per
    names = {e.path.relative_to(e.path.parents[1]).as_posix() for e in excluded}
    assert "bvh_mb/01_01.bvh" in names  # the ASF/AMC of the same take is kept
    assert sum(n.startswith("amp_retargeted_npy/") for n in names) == 6
    assert sum(n.startswith("c3d_female1/") for n in names) == 68


def test_one_format_per_take(listing):
    clips, _ = listing
    takes = Counter((c.dataset, c.path.stem) for c in clips)
    assert takes[("cmu_mocap", "01_01")] == 1
    assert next(c for c in clips if c.path.stem == "01_01").path.suffix == ".amc"


def test_test_subjects_never_in_train(listing):
    clips, _ = listing
    for c in clips:
        test_subjects = SPLIT_TABLE[c.dataset].get("test", frozenset())
        val_subjects = SPLIT_TABLE[c.dataset].get("val", frozenset())
        if c.subject in test_subjects:
            assert c.split == "test", c
        elif c.subject in val_subjects:
            assert c.split == "val", c
        else:
            assert c.split == "train", c
    by_split = {s: {c.subject for c in clips if c.split == s} for s in ("train", "val", "test")}
    assert by_split["test"] == {"cmu:11", "cmu:131", "cmu:135", "accad:Male2"}, by_split["test"]
    assert by_split["val"] == {"cmu:55", "cmu:141"}, by_split["val"]
    assert not by_split["train"] & (by_split["test"] | by_split["val"])
    for daz_only in ("cmu:10", "cmu:13", "cmu:14", "cmu:60/61", "cmu:94", "cmu:60", "cmu:61"):
        assert daz_only in by_split["train"], daz_only


def test_split_of_multi_subject():
    assert split_of("cmu_mocap", "cmu:60/61") == "train"
    assert split_of("cmu_mocap", "cmu:55/60") == "val"
    assert split_of("cmu_mocap", "cmu:131") == "test"
    with pytest.raises(InputError, match="no split table"):
        split_of("h36m", "s1")


def test_proportion_flags(listing):
    clips, _ = listing
    invalid = {c.name for c in clips if not c.proportions_valid}
    for c in clips:
        daz = "bvh_daz" in c.path.parent.name or c.dataset == "cmu_salsa_daz"
        if daz or c.subject == "accad:Female1":
            assert c.name in invalid, c.name
    borrowed = {"cmu_mocap/bvh_mb/02_01", "cmu_mocap/bvh_mb/05_06", "cmu_mocap/bvh_motionedit/16_11",
                "cmu_mocap/bvh_motionedit/141_16"}
    assert borrowed <= invalid
    daz_count = sum("daz" in c.path.parent.name for c in clips)
    female1 = sum(c.subject == "accad:Female1" for c in clips)
    assert len(invalid) == daz_count + female1 + len(borrowed), sorted(invalid)


def test_borrowed_skeletons_are_subject_1(shared_data):
    """The reason for the four flags above: those files' OFFSETs are subject 1's (01_01.bvh), to 5 decimals."""
    ref = read_bvh(shared_data / "cmu_mocap/bvh_mb/01_01.bvh")
    joints = [i for i, e in enumerate(ref.is_end_site) if not e]
    for rel in ("bvh_mb/02_01.bvh", "bvh_mb/05_06.bvh", "bvh_motionedit/16_11.bvh", "bvh_motionedit/141_16.bvh"):
        m = read_bvh(shared_data / "cmu_mocap" / rel)
        err = np.abs(m.offsets[joints] - ref.offsets[joints]).max()
        assert err < 1e-4, f"{rel}: OFFSETs differ from subject 1's by up to {err:.2e} units"


def test_actions_and_subjects(listing):
    clips, _ = listing
    assert all(c.action and c.subject.partition(":")[2] for c in clips)
    by_name = {c.name: c for c in clips}
    assert by_name["cmu_mocap/asf_amc/11_01"].action == "soccer - kick ball"
    assert by_name["cmu_mocap/asf_amc_csci520/135_06"].subject == "cmu:135"
    assert by_name["accad_mocap/bvh_male2/Male2_A1_Stand"].action == "stand"
    assert by_name["cmu_salsa_daz/bvh_daz_scaled/61_13_scaled"].subject == "cmu:61"
    assert catalog(datasets=("cmu_salsa_daz",)) == [c for c in clips if c.dataset == "cmu_salsa_daz"]


def test_unknown_dataset():
    with pytest.raises(InputError, match="unknown mocap dataset"):
        catalog(datasets=("h36m",))
