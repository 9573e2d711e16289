"""lift3d.mocap.ui_prmd: known answers on synthetic input, then the real UI-PRMD files in shared/data."""

from __future__ import annotations

import csv
import gzip
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.mocap.clip import ClipInfo
from lift3d.mocap.ui_prmd import (
    BodyModel,
    CLUSTERS,
    FPS,
    MARKERS,
    MOVEMENTS,
    PELVIS_SIZE_MM,
    REQUIRED,
    _resample,
    chord_centre,
    fill_gaps,
    harrington_hip_centres,
    hinge_axis,
    interpolate_gaps,
    joint_centres,
    load_ui_prmd_clip,
    pelvis_frame,
    pelvis_size,
    read_ui_prmd,
    rigid_fill,
    three_point_axis,
    ui_prmd_catalog,
)
from lift3d.skeletons.tables import H36M17

J = {n: i for i, n in enumerate(H36M17.joints)}
MK = {n: i for i, n in enumerate(MARKERS)}
TRAIN_REFERENCE = ("s01", "s02", "s03", "s04", "s06", "s07")


def _write_gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def _rot_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# ------------------------------------------------------------------------------------------- synthetic


def test_read_converts_zero_markers_to_nan(tmp_path):
    rows = np.arange(2 * 117, dtype=float).reshape(2, 117) + 1.0
    rows[1, 3:6] = 0.0  # marker 1 missing in frame 1
    path = _write_gz(tmp_path / "m01_s01_e01_positions.txt.gz", "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    markers, fps = read_ui_prmd(path)
    assert markers.shape == (2, 39, 3) and markers.dtype == np.float64
    assert fps == pytest.approx(100 / 3)
    np.testing.assert_array_equal(markers[0, 1], [4.0, 5.0, 6.0])
    assert np.isnan(markers[1, 1]).all() and not np.isnan(np.delete(markers[1], 1, axis=0)).any()


@pytest.mark.parametrize(
    "name, content",
    [
        ("plain_text", None),
        ("wrong_columns", "\n".join([",".join(["1.0"] * 117), ",".join(["1.0"] * 116)])),
        ("all_short", ",".join(["1.0"] * 114)),
        ("non_numeric", ",".join(["1.0"] * 116 + ["abc"])),
        ("non_finite", ",".join(["1.0"] * 116 + ["nan"])),
        ("empty", ""),
        ("blank_line", ",".join(["1.0"] * 117) + "\n\n" + ",".join(["1.0"] * 117)),
    ],
)
def test_read_rejects_bad_files_naming_them(tmp_path, name, content):
    path = tmp_path / f"{name}.txt.gz"
    if content is None:
        path.write_text("1,2,3\n")  # not gzip
    else:
        _write_gz(path, content)
    with pytest.raises(InputError) as err:
        read_ui_prmd(path)
    assert err.value.path == str(path) and str(path) in str(err.value), str(err.value)


def test_read_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_ui_prmd(tmp_path / "nope.txt.gz")


def test_interpolate_gaps_fills_short_interior_runs_only():
    T = 30
    m = np.zeros((T, 2, 3))
    m[:, 0, 0] = np.arange(T)  # a ramp: linear interpolation is exact
    m[:, 1, 2] = 2.0 * np.arange(T)
    m[5:8, 0] = np.nan  # 3 frames: filled
    m[10:25, 1] = np.nan  # 15 frames: too long
    m[:2, 0] = np.nan  # touches the start: not filled
    out = interpolate_gaps(m, max_gap=10)
    np.testing.assert_allclose(out[5:8, 0, 0], [5.0, 6.0, 7.0])
    assert np.isnan(out[10:25, 1]).all() and np.isnan(out[:2, 0]).all()
    assert np.isnan(m[5:8, 0]).all(), "input must not be modified"


def test_rigid_fill_recovers_a_hidden_marker_of_a_moving_cluster():
    rng = np.random.default_rng(0)
    tpl = np.array([[70.0, 60, 0], [75, -60, 5], [-120, 45, 40], [-118, -50, 35]])  # head-like, mm
    T = 12
    m = np.full((T, 39, 3), np.nan)
    cols = [MK[n] for n in CLUSTERS["head"]]
    for t in range(T):
        m[t, cols] = tpl @ _rot_z(30.0 * t).T + rng.normal(0, 100, 3) + [0, 0, 1600]
    truth = m.copy()
    m[3:9, cols[3]] = np.nan  # one marker gone for 6 frames
    m[10, cols[:2]] = np.nan  # two gone: only 2 seen, cannot be fitted
    out = rigid_fill(m, {"head": tpl})
    np.testing.assert_allclose(out[3:9, cols[3]], truth[3:9, cols[3]], atol=1e-6)
    assert np.isnan(out[10, cols[:2]]).all()


def test_fill_gaps_uses_given_templates_when_the_take_never_sees_the_cluster():
    tpl = np.array([[60.0, 130, 0], [60, -130, 0], [-150, 50, 30], [-150, -50, 30]])  # LASI RASI LPSI RPSI
    m = np.full((5, 39, 3), np.nan)
    cols = [MK[n] for n in CLUSTERS["pelvis"]]
    for t in range(5):
        m[t, cols] = tpl @ _rot_z(10.0 * t).T + [0, 0, 900]
    truth = m[:, cols[0]].copy()
    m[:, cols[0]] = np.nan  # LASI missing throughout
    assert np.isnan(fill_gaps(m)[:, cols[0]]).all()
    np.testing.assert_allclose(fill_gaps(m, templates={"pelvis": tpl})[:, cols[0]], truth, atol=1e-6)


def test_pelvis_frame_and_harrington_known_answer():
    # A pelvis facing +x with +y to its left (the lab frame of the m01/m07 start poses).
    lasi, rasi = np.array([0.0, 125, 0]), np.array([0.0, -125, 0])
    lpsi, rpsi = np.array([-150.0, 45, 30]), np.array([-150.0, -45, 30])
    origin, axes = pelvis_frame(lasi, rasi, lpsi, rpsi)
    np.testing.assert_allclose(origin, 0.0, atol=1e-12)
    assert axes[0, 0] > 0.98 and axes[1, 1] == pytest.approx(1.0) and axes[2, 2] > 0.98  # ant, left, up
    pw, pd = 250.0, 150.0
    hjc = harrington_hip_centres(pw, pd)
    # Harrington 2007: x = -0.24 PD - 9.9, y = -0.30 PW - 10.9, z = 0.33 PW + 7.3 (mm).
    np.testing.assert_allclose(hjc, [[-45.9, 89.8, -85.9], [-45.9, -89.8, -85.9]])
    m = np.full((1, 39, 3), np.nan)
    for n, p in zip(("LASI", "RASI", "LPSI", "RPSI"), (lasi, rasi, lpsi, rpsi)):
        m[0, MK[n]] = p
    assert pelvis_size(m) == pytest.approx((250.0, np.hypot(150.0, 30.0)))


def _hinge_scene(flexion_deg: float, d: float = 57.0, d_dist: float = 42.0):
    """Left knee at the origin, axis +y lateral (so medial -y), thigh up, shank flexed backwards."""
    f = np.radians(flexion_deg)
    lateral = np.array([0.0, 1.0, 0.0])
    hip = np.array([0.0, 0.0, 400.0])
    ankle = np.array([-np.sin(f) * 430.0, 0.0, -np.cos(f) * 430.0])
    return hip, d * lateral, ankle + d_dist * lateral, ankle  # hip, KNE, ANK marker, ankle centre


@pytest.mark.parametrize("flexion", [30.0, 60.0, 90.0, 120.0])
def test_hinge_axis_recovers_a_flexed_left_knee(flexion):
    hip, kne, ank, _ = _hinge_scene(flexion)
    axis = hinge_axis(hip - kne, ank - kne, 57.0, 57.0 - 42.0, side=1.0)
    np.testing.assert_allclose(axis, [0.0, -1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(kne + 57.0 * three_point_axis(hip, kne, ank, 57.0, 42.0, 1.0), 0.0, atol=1e-9)


def test_three_point_axis_is_exact_for_a_straight_limb():
    hip, kne, ank, _ = _hinge_scene(0.0)
    for side in (1.0, -1.0):
        np.testing.assert_allclose(three_point_axis(hip, kne, ank, 57.0, 42.0, side), [0.0, -1.0, 0.0], atol=1e-9)


def test_chord_centre_known_answer():
    hip, kne = np.array([0.0, 0.0, 400.0]), np.array([0.0, 57.0, 0.0])
    thi = np.array([0.0, 80.0, 200.0])  # lateral wand in the frontal plane
    c = chord_centre(hip, kne, thi, 57.0)
    assert np.linalg.norm(c - kne) == pytest.approx(57.0)
    assert np.dot(hip - c, kne - c) == pytest.approx(0.0, abs=1e-9)  # right angle at the centre
    assert abs(c[0]) < 1e-9 and c[1] < kne[1], c  # in the wand's plane, medial of the marker


def test_joint_centres_of_a_synthetic_standing_body():
    """A rigid standing body facing +x: every joint lands where the model puts it."""
    z = {"head": 1650.0, "sho": 1420.0, "elb": 1120.0, "wr": 870.0, "asi": 950.0, "kne": 500.0, "ank": 80.0}
    p = {
        "LFHD": (70, 60, z["head"]), "RFHD": (70, -60, z["head"]), "LBHD": (-110, 60, z["head"]),
        "RBHD": (-110, -60, z["head"]), "C7": (-80, 0, 1450), "T10": (-110, 0, 1200), "CLAV": (40, 0, 1400),
        "STRN": (70, 0, 1150), "LSHO": (0, 190, z["sho"]), "RSHO": (0, -190, z["sho"]),
        "LELB": (0, 230, z["elb"]), "RELB": (0, -230, z["elb"]), "LWRA": (20, 200, z["wr"]),
        "LWRB": (-20, 200, z["wr"]), "RWRA": (20, -200, z["wr"]), "RWRB": (-20, -200, z["wr"]),
        "LASI": (60, 125, z["asi"]), "RASI": (60, -125, z["asi"]), "LPSI": (-140, 45, z["asi"] + 40),
        "RPSI": (-140, -45, z["asi"] + 40), "LTHI": (0, 180, 700), "RTHI": (0, -180, 700),
        "LKNE": (-45, 150, z["kne"]), "RKNE": (-45, -150, z["kne"]), "LTIB": (-45, 150, 300),
        "RTIB": (-45, -150, 300), "LANK": (-45, 140, z["ank"]), "RANK": (-45, -140, z["ank"]),
    }
    m = np.full((3, 39, 3), np.nan)
    for n, xyz in p.items():
        m[:, MK[n]] = xyz
    m[1] = m[1] @ _rot_z(90.0).T  # the same body turned to face +y
    m[2, MK["LKNE"]] = np.nan  # a missing marker only spoils its own joints
    pose = joint_centres(m, model=BodyModel(head_pitch_deg=0.0))
    assert pose.shape == (3, 17, 3)
    np.testing.assert_allclose(pose[1], pose[0] @ _rot_z(90.0).T, atol=1e-9)
    j = {n: pose[0, i] * 1000.0 for n, i in J.items()}
    np.testing.assert_allclose(j["head"], [-20, 0, 1650])
    np.testing.assert_allclose(j["neck"], [80, 0, 1620])  # nose: 0.10 m ahead, 0.03 m below the head centre
    assert j["l_hip"][1] > 50 and j["r_hip"][1] < -50 and j["l_hip"][2] < z["asi"] - 50
    assert j["l_knee"][1] < 150 - 50 and abs(j["l_knee"][2] - z["kne"]) < 10  # medial of KNE, same height
    assert j["l_ankle"][1] < 140 - 35
    assert j["l_shoulder"][2] < z["sho"] - 40 and j["l_elbow"][1] < 230 - 30
    np.testing.assert_allclose(j["l_wrist"], [0, 200, z["wr"]])
    np.testing.assert_allclose(j["pelvis"], (j["l_hip"] + j["r_hip"]) / 2)
    np.testing.assert_allclose(j["thorax"], (j["l_shoulder"] + j["r_shoulder"]) / 2)
    np.testing.assert_allclose(j["spine"], (j["pelvis"] + j["thorax"]) / 2)
    # A head band tilted up at the front by head_pitch_deg gives the same nose as a level one.
    tilted = m[:1].copy()
    for n in ("LFHD", "RFHD", "LBHD", "RBHD"):
        x, zz = tilted[0, MK[n], 0] + 20.0, tilted[0, MK[n], 2] - z["head"]
        a = np.radians(15.0)
        tilted[0, MK[n], [0, 2]] = [x * np.cos(a) - zz * np.sin(a) - 20.0, x * np.sin(a) + zz * np.cos(a) + z["head"]]
    np.testing.assert_allclose(joint_centres(tilted)[0, J["neck"]] * 1000, j["neck"], atol=1e-9)
    bad = np.isnan(pose[2]).any(axis=-1)
    assert {H36M17.joints[i] for i in np.nonzero(bad)[0]} == {"l_knee", "l_ankle"}


def test_joint_centres_rejects_wrong_shape():
    with pytest.raises(InputError, match="39"):
        joint_centres(np.zeros((4, 17, 3)))


def test_resample_is_linear():
    t = np.arange(5) / 10.0
    pose = np.broadcast_to((3.0 * t)[:, None, None], (5, 17, 3)).copy()
    out = _resample(pose, t, 25.0)
    assert out.shape == (11, 17, 3)
    np.testing.assert_allclose(out[:, 0, 0], 3.0 * np.arange(11) / 25.0)


def test_load_raises_when_no_frame_is_usable(tmp_path):
    row = np.full(117, 100.0)
    row[3 * MK["LASI"]: 3 * MK["LASI"] + 3] = 0.0  # LASI and RASI missing in every frame
    row[3 * MK["RASI"]: 3 * MK["RASI"] + 3] = 0.0
    path = _write_gz(tmp_path / "take.txt.gz", "\n".join([",".join(map(str, row))] * 3))
    info = ClipInfo(path=path, dataset="ui_prmd_vicon", subject="ui_prmd:s99", action="deep squat", split="train")
    with pytest.raises(InputError, match="no usable frame") as err:
        load_ui_prmd_clip(info)
    assert err.value.path == str(path)
    with pytest.raises(InputError, match="fps"):
        load_ui_prmd_clip(info, fps=0.0)


def test_catalog_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="files.csv"):
        ui_prmd_catalog(tmp_path)
    (tmp_path / "files.csv").write_text("file,movement,subject,episode\npositions/x.txt.gz,m01,s01,e01\n")
    with pytest.raises(InputError, match="missing") as err:
        ui_prmd_catalog(tmp_path)
    assert "x.txt.gz" in str(err.value)


# ------------------------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def ui_dir(shared_data) -> Path:
    d = shared_data / "ui_prmd_vicon"
    if not (d / "files.csv").is_file():
        pytest.skip(f"UI-PRMD not found at {d}")
    return d


@pytest.fixture(scope="module")
def catalog(ui_dir) -> list[ClipInfo]:
    return ui_prmd_catalog(ui_dir)


@pytest.fixture(scope="module")
def markers(catalog) -> dict[str, np.ndarray]:
    """Every take's raw markers, by file name (the one test fixture that reads all 990 files)."""
    return {info.path.name: read_ui_prmd(info.path)[0] for info in catalog}


def _sub(name: str) -> str:
    return name.split("_")[1]


@pytest.fixture(scope="module")
def clips(catalog):
    """Joints of 3 takes per subject and movement (e01, e05, e09), through the public loader."""
    return [load_ui_prmd_clip(i) for i in catalog if i.path.name.split("_")[2] in ("e01", "e05", "e09")]


def _standing(markers: dict[str, np.ndarray], subject: str) -> np.ndarray:
    """First frames (standing, arms down) of the subject's m07, m08, m10 takes, gaps filled within each take."""
    first = [fill_gaps(m)[:1] for n, m in sorted(markers.items())
             if _sub(n) == subject and n[:3] in ("m07", "m08", "m10")]
    first = np.concatenate(first)
    return first[~np.isnan(first[:, [MK[n] for n in REQUIRED]]).any(axis=(1, 2))]


def _body_frame(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward (C7 to CLAV, horizontal) and left (up x forward) of each frame; needs no left/right label."""
    fwd = m[:, MK["CLAV"]] - m[:, MK["C7"]]
    fwd[:, 2] = 0.0
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    return fwd, np.cross([0.0, 0.0, 1.0], fwd)


def test_catalog_lists_every_take(catalog, ui_dir):
    assert len(catalog) == 990
    by_split = defaultdict(set)
    for info in catalog:
        by_split[info.split].add(info.subject)
        assert info.dataset == "ui_prmd_vicon" and info.action in MOVEMENTS.values()
        assert info.name.startswith("ui_prmd_vicon/positions/m")
    assert by_split == {"test": {"ui_prmd:s09", "ui_prmd:s10"}, "val": {"ui_prmd:s08"},
                        "train": {f"ui_prmd:s0{k}" for k in range(1, 8)}}
    invalid = sorted({(i.subject, i.path.name[:3]) for i in catalog if not i.proportions_valid})
    assert invalid == [("ui_prmd:s05", f"m{k:02d}") for k in range(1, 11)] + [
        ("ui_prmd:s10", "m04"), ("ui_prmd:s10", "m09"), ("ui_prmd:s10", "m10")], invalid
    assert len(ui_prmd_catalog(ui_dir.parent)) == 990  # shared/data works too


def test_every_file_parses(markers, ui_dir):
    with open(ui_dir / "files.csv", newline="") as f:
        kept = {Path(r["file"]).name: int(r["frames_kept"]) for r in csv.DictReader(f)}
    assert len(markers) == 990
    frames = {n: len(m) for n, m in markers.items()}
    assert frames == kept
    assert sum(frames.values()) == 81179
    for s in sorted({_sub(n) for n in markers}):
        allm = np.concatenate([m for n, m in markers.items() if _sub(n) == s])
        missing = np.isnan(allm[..., 0]).mean()
        assert missing <= 0.003, f"{s}: {missing:.4%} of marker-frames missing"


def test_marker_order_matches_geometry(markers):
    """SOURCE.md's inferred Plug-in-Gait order, checked in each subject's standing frames."""
    pairs = ["FHD", "BHD", "SHO", "UPA", "ELB", "FRM", "WRA", "WRB", "FIN", "ASI", "PSI", "THI", "KNE", "TIB",
             "ANK", "HEE", "TOE"]
    ahead = [("LFHD", "LBHD"), ("RFHD", "RBHD"), ("LASI", "LPSI"), ("RASI", "RPSI"), ("STRN", "T10"),
             ("CLAV", "C7"), ("LTOE", "LHEE"), ("RTOE", "RHEE")]
    above = [("LBHD", "C7"), ("C7", "T10"), ("CLAV", "STRN"), ("LSHO", "LELB"), ("RSHO", "RELB"),
             ("LELB", "LWRA"), ("RELB", "RWRB"), ("LWRB", "LFIN"), ("RWRA", "RFIN"), ("LASI", "LTHI"),
             ("LTHI", "LKNE"), ("RTHI", "RKNE"), ("LKNE", "LTIB"), ("RKNE", "RTIB"), ("LTIB", "LANK"),
             ("RTIB", "RANK"), ("LANK", "LHEE")]
    for s in sorted({_sub(n) for n in markers}):
        m = _standing(markers, s)
        fwd, left = _body_frame(m)
        for p in pairs:
            sep = np.einsum("ti,ti->t", m[:, MK["L" + p]] - m[:, MK["R" + p]], left)
            assert np.nanmin(sep) > 50, f"{s}: L{p} not left of R{p} (min {np.nanmin(sep):.0f} mm)"
        for a, b in ahead:
            d = np.einsum("ti,ti->t", m[:, MK[a]] - m[:, MK[b]], fwd)
            assert np.nanmin(d) > 50, f"{s}: {a} not ahead of {b} (min {np.nanmin(d):.0f} mm)"
        for a, b in above:
            d = np.nanmedian(m[:, MK[a], 2] - m[:, MK[b], 2])  # median: a take may start with an arm raised
            assert d > 5, f"{s}: {a} not above {b} (median {d:.0f} mm)"
        rbak = np.einsum("ti,ti->t", m[:, MK["RBAK"]] - m[:, MK["C7"]], left)
        assert rbak.max() < -50, f"{s}: RBAK not on the right of C7 ({rbak.max():.0f} mm)"


BONES = {"thigh": ("hip", "knee", 0.33, 0.50), "shank": ("knee", "ankle", 0.33, 0.50),
         "upper_arm": ("shoulder", "elbow", 0.24, 0.36), "forearm": ("elbow", "wrist", 0.20, 0.32)}


def _bone(pose: np.ndarray, side: str, bone: str) -> np.ndarray:
    p, c = BONES[bone][:2]
    return np.linalg.norm(pose[:, J[f"{side}_{p}"]] - pose[:, J[f"{side}_{c}"]], axis=-1)


def test_bone_lengths_per_subject(clips):
    report = []
    for s in sorted({c.info.subject for c in clips}):
        mine = [c for c in clips if c.info.subject == s]
        cells = []
        for bone, (_, _, lo, hi) in BONES.items():
            med = np.median(np.concatenate([_bone(c.pose3d_world_m, sd, bone) for c in mine for sd in "lr"]))
            std = np.array([_bone(c.pose3d_world_m, sd, bone).std() for c in mine for sd in "lr"])
            cells.append(f"{bone} {med * 1000:.0f} mm (take std median {np.median(std) * 1000:.1f}, "
                         f"max {std.max() * 1000:.1f})")
            assert lo <= med <= hi, f"{s} {bone}: median {med:.3f} m outside [{lo}, {hi}]"
            assert np.median(std) < 0.015, f"{s} {bone}: median within-take std {np.median(std) * 1000:.1f} mm"
            # Takes with the legs still (standing shoulder exercises): no soft-tissue slide to excuse a spread.
            still = [_bone(c.pose3d_world_m, sd, bone).std() for c in mine if c.info.path.name[:3] in
                     ("m07", "m08", "m09", "m10") for sd in "lr"]
            assert max(still) < 0.015, f"{s} {bone}: within-take std up to {max(still) * 1000:.1f} mm standing"
        report.append(f"{s}: " + "; ".join(cells))
    logging.getLogger(__name__).info("\n".join(report))


def test_left_and_right_are_not_swapped(clips):
    for c in clips:
        p = c.pose3d_world_m
        fwd = p[:, J["neck"]] - p[:, J["head"]]  # the nose is ahead of the head centre
        fwd[:, 2] = 0.0
        left = np.cross([0.0, 0.0, 1.0], fwd / np.linalg.norm(fwd, axis=-1, keepdims=True))
        for a, b in (("l_hip", "r_hip"), ("l_shoulder", "r_shoulder")):
            sep = np.einsum("ti,ti->t", p[:, J[a]] - p[:, J[b]], left)
            assert np.median(sep) > 0.08, f"{c.info.name}: {a} left of {b} by median {np.median(sep):.3f} m"


def test_left_is_left_in_the_body_frame_of_the_markers(markers):
    """The same check with a body frame from the trunk markers (C7 to CLAV), in standing frames."""
    for s in sorted({_sub(n) for n in markers}):
        m = _standing(markers, s)
        _, left = _body_frame(m)
        pose = joint_centres(m, PELVIS_SIZE_MM.get(f"ui_prmd:{s}"))
        sep = np.einsum("ti,ti->t", pose[:, J["l_hip"]] - pose[:, J["r_hip"]], left)
        assert sep.min() > 0.12, f"{s}: left hip only {sep.min():.3f} m left of the right hip"


def test_standing_vertical_order_and_nose_ahead(clips):
    aheads, drops = [], []
    for c in clips:
        if c.info.path.name[:3] not in ("m06", "m07", "m08", "m09", "m10"):
            continue
        p = c.pose3d_world_m[0]  # takes start standing
        z = {n: p[J[n], 2] for n in ("head", "neck", "thorax", "spine", "pelvis", "l_knee", "l_ankle")}
        assert z["head"] > z["thorax"] + 0.15 > z["pelvis"] + 0.15, f"{c.info.name}: {z}"
        assert z["pelvis"] > z["l_knee"] + 0.25 > z["l_ankle"] + 0.25, f"{c.info.name}: {z}"
        trunk_fwd = np.cross(p[J["l_hip"]] - p[J["r_hip"]], [0.0, 0.0, 1.0])  # left x up = forward
        ahead = np.dot(p[J["neck"]] - p[J["head"]], trunk_fwd / np.linalg.norm(trunk_fwd))
        aheads.append(ahead)
        drops.append(z["head"] - z["neck"])
        assert ahead > 0.03, f"{c.info.name}: nose {ahead:.3f} m ahead of the head centre"
    # Standing, the nose is ~0.10 m ahead of and ~0.03 m below the head centre (head turns and nods aside).
    assert 0.09 < np.median(aheads) < 0.105 and 0.01 < np.median(drops) < 0.05, (np.median(aheads), np.median(drops))


def test_whole_take_gaps_are_filled_from_the_subjects_other_takes(catalog, caplog):
    by_name = {i.path.name: i for i in catalog}
    # s10's LASI is missing in every m08 take; s05's LWRB in m10 e01 and STRN too.
    for name in ("m08_s10_e01_positions.txt.gz", "m10_s05_e01_positions.txt.gz"):
        raw, _ = read_ui_prmd(by_name[name].path)
        clip = load_ui_prmd_clip(by_name[name])
        assert len(clip.pose3d_world_m) == len(raw), f"{name}: {len(clip.pose3d_world_m)} of {len(raw)} frames"
    # The filled pelvis of s10 m08 is as wide as in s10's m07 takes (same marker placement).
    m08 = load_ui_prmd_clip(by_name["m08_s10_e01_positions.txt.gz"]).pose3d_world_m
    m07 = load_ui_prmd_clip(by_name["m07_s10_e01_positions.txt.gz"]).pose3d_world_m
    width = [np.median(np.linalg.norm(p[:, J["l_hip"]] - p[:, J["r_hip"]], axis=-1)) for p in (m08, m07)]
    assert abs(width[0] - width[1]) < 0.01, f"hip width m08 {width[0]:.3f} m vs m07 {width[1]:.3f} m"
    # Leading frames that cannot be filled are dropped with a warning.
    with caplog.at_level(logging.WARNING, logger="lift3d.mocap.ui_prmd"):
        clip = load_ui_prmd_clip(by_name["m03_s02_e01_positions.txt.gz"])
    assert len(clip.pose3d_world_m) == 82 and "dropped 2 of 84 frames" in caplog.text, caplog.text


def test_resampled_clip(catalog):
    info = catalog[0]
    native = load_ui_prmd_clip(info)
    clip = load_ui_prmd_clip(info, fps=30.0)
    T = len(native.pose3d_world_m)
    assert native.fps == pytest.approx(FPS) and clip.fps == 30.0
    assert len(clip.pose3d_world_m) == int(np.floor((T - 1) / FPS * 30.0 + 1e-9)) + 1
    np.testing.assert_allclose(clip.pose3d_world_m[0], native.pose3d_world_m[0])
    t = 10 / 30.0  # between native frames 11 and 12
    k = int(t * FPS)
    w = t * FPS - k
    expect = (1 - w) * native.pose3d_world_m[k] + w * native.pose3d_world_m[k + 1]
    np.testing.assert_allclose(clip.pose3d_world_m[10], expect, atol=1e-12)


def test_s05_pelvis_size_follows_from_the_other_subjects(markers):
    """Re-derive PELVIS_SIZE_MM['ui_prmd:s05'] (stature ratio of the training subjects) and check the result."""
    ratios = {}
    for s in sorted({_sub(n) for n in markers}):
        m = _standing(markers, s)
        h = np.median(m[:, :4, 2].mean(axis=1))
        ratios[s] = (h, *pelvis_size(m))
    pw = np.mean([ratios[s][1] / ratios[s][0] for s in TRAIN_REFERENCE])
    pd = np.mean([ratios[s][2] / ratios[s][0] for s in TRAIN_REFERENCE])
    h5 = ratios["s05"][0]
    table = PELVIS_SIZE_MM["ui_prmd:s05"]
    assert abs(pw * h5 - table[0]) < 3 and abs(pd * h5 - table[1]) < 3, (pw * h5, pd * h5, table)
    assert ratios["s05"][1] > 400, f"s05's own ASIS markers are {ratios['s05'][1]:.0f} mm apart"
    # With it, s05's standing hip height and hip width over stature sit inside the others' range.
    stats = {}
    for s in ratios:
        pose = joint_centres(_standing(markers, s), PELVIS_SIZE_MM.get(f"ui_prmd:{s}"))
        hip_z = np.median(pose[:, [J["l_hip"], J["r_hip"]], 2]) * 1000 / ratios[s][0]
        width = np.median(np.linalg.norm(pose[:, J["l_hip"]] - pose[:, J["r_hip"]], axis=-1)) * 1000 / ratios[s][0]
        stats[s] = (hip_z, width)
    for k, what in enumerate(("hip height / H", "hip width / H")):
        others = [v[k] for s, v in stats.items() if s != "s05"]
        assert min(others) - 0.01 <= stats["s05"][k] <= max(others) + 0.01, \
            f"s05 {what} {stats['s05'][k]:.3f}, others {min(others):.3f}-{max(others):.3f}"


def test_proportions_flags_match_marker_placement(clips):
    """Shank length in the standing takes (m06-m10) is steady per subject, except where flagged."""
    per = defaultdict(list)
    for c in clips:
        if c.info.path.name[:3] in ("m06", "m07", "m08", "m09", "m10"):
            shank = np.median([_bone(c.pose3d_world_m, sd, "shank") for sd in "lr"])
            per[(c.info.subject, c.info.proportions_valid)].append(shank)
    for (s, valid), v in sorted(per.items()):
        if valid:
            assert np.ptp(v) < 0.02, f"{s}: standing shank {min(v):.3f}-{max(v):.3f} m across takes"
    s10 = {valid: np.median(v) for (s, valid), v in per.items() if s == "ui_prmd:s10"}
    assert s10[True] - s10[False] > 0.04, f"s10 shank {s10[True]:.3f} m vs flagged takes {s10[False]:.3f} m"
    s05 = per[("ui_prmd:s05", False)]
    assert np.ptp(s05) > 0.02, f"s05 standing shank only varies {np.ptp(s05):.3f} m"
