"""The mocap dataset builder on the real takes of shared/data."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from lift3d.cli.main import main
from lift3d.data.build_mocap import BuildMocapConfig, list_takes, select_takes, subject_matches
from lift3d.data.mocap_h5 import read_multiview_h5
from lift3d.data.virtual_cameras import project
from lift3d.errors import InputError
from lift3d.skeletons import H36M17


@pytest.fixture(scope="module")
def built(shared_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "mocap_131.h5"
    rc = main(["data", "build-mocap", "-o", str(out), "--subjects", "cmu:131", "--views", "3", "--noise", "0.2",
               "--dropout", "0.05", "--seed", "3", "--no-progress", "--data-dir", str(shared_data)])
    assert rc == 0
    return out


def test_contract(built: Path):
    with h5py.File(built) as f:
        assert f.attrs["format"] == "lift3d.mocap-multiview"
        assert list(f.attrs["joint_names"]) == list(H36M17.joints)
        names = list(f.keys())
        assert len(names) >= 4, names  # 131_01..03 as BVH, 131_04 as ASF/AMC
        for n in names:
            g = f[n]
            T = g["pose3d_world_m"].shape[0]
            assert g.attrs["subject"] == "cmu:131" and g.attrs["split"] == "test" and g.attrs["fps"] == 30.0
            assert g["pose3d_world_m"].shape == (T, 17, 3) and g["pose3d_world_m"].dtype == np.float32
            assert g["kp2d_px"].shape == (3, T, 17, 2) and g["conf"].shape == (3, T, 17)
            for k, shape in (("K", (3, 3, 3)), ("R", (3, 3, 3)), ("t", (3, 3)), ("image_size", (3, 2))):
                assert g[f"cameras/{k}"].shape == shape


def test_geometry_and_noise_are_consistent(built: Path):
    seqs = read_multiview_h5(built)
    errs, scales, dropped = [], [], []
    for s in seqs:
        c = s.cameras
        for v in range(s.num_views):
            px, depth = project(s.pose3d_world_m.astype(np.float64), c["K"][v], c["R"][v], c["t"][v])
            np.testing.assert_allclose(px, s.kp2d_clean_px[v], atol=0.05)  # stored clean 2D = projection
            assert (depth > 0.5).all(), "subject behind or too close to a camera"
            ok = s.conf[v] > 0
            assert (s.kp2d_px[v][~ok] == 0).all(), "conf 0 must come with zeroed coordinates"
            errs.append(np.linalg.norm(s.kp2d_px[v][ok] - s.kp2d_clean_px[v][ok], axis=-1))
            span = np.ptp(s.kp2d_clean_px[v], axis=1)  # (T, 2)
            scales.append(np.sqrt(span[:, 0] * span[:, 1]))
            dropped.append(1 - ok.mean())
    rel = np.median(np.concatenate(errs)) / np.median(np.concatenate(scales))
    # level 0.2 x COCO sigmas (0.026-0.107) x person scale: median 2D error about 1% of the scale.
    assert 0.003 < rel < 0.03, f"median 2D error is {rel:.4f} of the person scale"
    assert 0.02 < np.mean(dropped) < 0.15, f"dropped fraction {np.mean(dropped):.3f} (asked 0.05 + out of frame)"


def test_bone_lengths_survive(built: Path):
    for s in read_multiview_h5(built):
        p = s.pose3d_world_m
        lengths = np.linalg.norm(p[:, [c for _, c in H36M17.bones]] - p[:, [q for q, _ in H36M17.bones]], axis=-1)
        spread = lengths.max(0) - lengths.min(0)
        # Tree bones between file joints are rigid; synthesised joints (spine, thorax) move with the trunk.
        assert spread[[0, 1, 2, 3, 4, 5, 11, 12, 14, 15]].max() < 2e-3, f"{s.name}: spread {spread}"


def test_subset_build_is_reproducible(built: Path, shared_data, tmp_path: Path):
    one = tmp_path / "one.h5"
    main(["data", "build-mocap", "-o", str(one), "--subjects", "cmu:131", "--views", "3", "--noise", "0.2",
          "--dropout", "0.05", "--seed", "3", "--no-progress", "--data-dir", str(shared_data),
          "--datasets", "cmu_mocap"])
    a = {s.name: s for s in read_multiview_h5(built)}
    for s in read_multiview_h5(one):
        np.testing.assert_array_equal(s.kp2d_px, a[s.name].kp2d_px)
        np.testing.assert_array_equal(s.cameras["R"], a[s.name].cameras["R"])


def test_splits_never_mix(shared_data):
    infos = list_takes(["cmu_mocap", "accad_mocap", "cmu_salsa_daz", "ui_prmd_vicon"], shared_data)
    by_split = {sp: {i.subject for i in infos if i.split == sp} for sp in ("train", "val", "test")}
    assert not by_split["train"] & by_split["test"] and not by_split["train"] & by_split["val"]
    for s in ("cmu:11", "cmu:131", "cmu:135", "accad:Male2", "ui_prmd:s09", "ui_prmd:s10"):
        assert any(subject_matches(t, s) for t in by_split["test"]), f"{s} should be a test subject"
    train = select_takes(infos, BuildMocapConfig(split="train"))
    assert not any(subject_matches(i.subject, "cmu:11") or subject_matches(i.subject, "131") for i in train)


def test_bad_requests(shared_data, tmp_path: Path, capsys):
    rc = main(["data", "build-mocap", "-o", str(tmp_path / "missing_dir" / "x.h5"), "--subjects", "cmu:131",
               "--data-dir", str(shared_data), "--no-progress"])
    assert rc == 2 and "output directory does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing_dir").exists()
    rc = main(["data", "build-mocap", "-o", str(tmp_path / "x.h5"), "--subjects", "cmu:999",
               "--data-dir", str(shared_data), "--no-progress"])
    assert rc == 2 and "no takes for subject(s) ['cmu:999']" in capsys.readouterr().err
    rc = main(["data", "build-mocap", "-o", str(tmp_path / "x.h5"), "cameras.bogus=1", "--data-dir", str(shared_data)])
    assert rc == 2 and "unknown key(s) ['bogus']" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="unknown dataset"):
        list_takes(["nope"], shared_data)
