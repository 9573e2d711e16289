"""Clip loading on the real data: units, Z-up, reference-pose frames, frame rates, head points, resampling."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.mocap.catalog import catalog
from lift3d.mocap.clip import ClipInfo
from lift3d.mocap.loader import load_clip, load_nodes, nodes_to_clip, nominal_fps, resample, true_fps
from lift3d.paths import shared_data_dir
from lift3d.skeletons import H36M17

J = {name: i for i, name in enumerate(H36M17.joints)}


def _catalog() -> list[ClipInfo]:
    return catalog() if shared_data_dir().is_dir() else []


CLIPS = {c.name: c for c in _catalog()}


@pytest.fixture(scope="module")
def nodes_cache():
    """Parse each file once per module: ``name -> MocapNodes``."""
    cache = {}

    def get(info: ClipInfo):
        if info.name not in cache:
            cache[info.name] = load_nodes(info)
        return cache[info.name]

    return get


def _info(path: Path, dataset="cmu_mocap", subject="cmu:01") -> ClipInfo:
    return ClipInfo(path=path, dataset=dataset, subject=subject, action="", split="train")


def _upright_forward(pose: np.ndarray) -> np.ndarray:
    """Unit body forward ``(T, 3)`` from hips and shoulders (trunk up x right), as the loader defines it."""
    up = (pose[:, J["l_shoulder"]] + pose[:, J["r_shoulder"]] - pose[:, J["l_hip"]] - pose[:, J["r_hip"]]) / 2
    right = pose[:, J["r_hip"]] - pose[:, J["l_hip"]] + pose[:, J["r_shoulder"]] - pose[:, J["l_shoulder"]]
    f = np.cross(up, right)
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


# --- every clip loads, Z-up --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CLIPS))
def test_clip_loads_z_up(shared_data, nodes_cache, name):
    info = CLIPS[name]
    clip = nodes_to_clip(info, nodes_cache(info))
    p = clip.pose3d_world_m  # (T, 17, 3)
    assert p.shape[0] > 10 and np.isfinite(p).all()
    lowest = np.percentile(p[..., 2].min(axis=1), 10)
    head_over_pelvis = np.median(p[:, J["head"], 2] - p[:, J["pelvis"], 2])
    # At floor contact the lowest joint (an ankle, standing) sits a few cm above the floor at z = 0.
    assert -0.05 < lowest < 0.15, f"{name}: 10th percentile of the lowest joint's z {lowest:.3f} m"
    lying = any(k in info.action.lower() for k in ("lie", "crawl", "random stuff"))
    if not lying and "cartwheel" not in info.action:
        assert head_over_pelvis > 0.4, f"{name}: median head-over-pelvis {head_over_pelvis:.3f} m"


# --- body proportions -------------------------------------------------------------------------------------

def _subjects() -> list[str]:
    return sorted({c.subject for c in CLIPS.values() if c.proportions_valid})


@pytest.mark.parametrize("subject", _subjects())
def test_heights_and_thighs_plausible(shared_data, nodes_cache, subject):
    heights, thighs = [], []
    for info in CLIPS.values():
        if info.subject != subject or not info.proportions_valid:
            continue
        p = nodes_to_clip(info, nodes_cache(info)).pose3d_world_m
        ankle_z = np.minimum(p[:, J["l_ankle"], 2], p[:, J["r_ankle"], 2])
        heights.append(np.percentile(p[:, J["head"], 2] - ankle_z, 95))  # upright moments
        thighs.append(np.linalg.norm(p[:, J["l_knee"]] - p[:, J["l_hip"]], axis=-1).mean())
    height, thigh = float(np.median(heights)), float(np.median(thighs))
    # Head centre (mid-ears level) above the ankle joint: stature minus ~0.2 m for an adult of 1.5-1.9 m.
    assert 1.2 < height < 1.75, f"{subject}: head-centre-over-ankle height {height:.3f} m"
    assert 0.3 < thigh < 0.6, f"{subject}: thigh {thigh:.3f} m"


def test_salsa_scale_is_1_over_128(shared_data, nodes_cache):
    """cmu_salsa_daz is the Daz figure scaled by 1/128: at 1.28 m per unit its bones equal the unscaled files'."""
    salsa = nodes_cache(CLIPS["cmu_salsa_daz/bvh_daz_scaled/60_02_scaled"])
    daz = nodes_cache(CLIPS["cmu_mocap/bvh_daz_jaanga/07_03"])
    parents = np.array(daz.table.skeleton.parents)
    child = np.flatnonzero(parents >= 0)

    def bones(n):
        return np.linalg.norm(n.pos_m[0, child] - n.pos_m[0, parents[child]], axis=-1)

    err = np.abs(bones(salsa) - bones(daz)).max()
    assert err < 1e-3, f"salsa vs Daz bone lengths differ by up to {err * 1000:.2f} mm"


# --- reference pose ----------------------------------------------------------------------------------------

def _clip_list_tpose() -> dict[str, bool]:
    root = shared_data_dir() / "cmu_mocap"
    if not root.is_dir():
        return {}
    with (root / "clips_added.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {f"cmu_mocap/{r['folder']}/{r['file'].split()[0].rsplit('.', 1)[0]}": r["frame0_is_tpose"] == "yes"
            for r in rows}


def test_reference_pose_detection_matches_documentation(shared_data, nodes_cache):
    """Dropped frames agree with the documented T-pose frames of every clip (ACCAD and the rest: none)."""
    documented = _clip_list_tpose()
    wrong = []
    for name, info in CLIPS.items():
        dropped = nodes_cache(info).num_dropped
        if name.startswith("cmu_salsa_daz"):
            # The uploader removed the T-pose frame but not the blend after it (<= 0.1 s at 30 fps).
            ok = dropped <= 3
        elif name in documented:
            ok = (dropped >= 1) == documented[name]
        else:
            ok = dropped == 0
        if not ok:
            wrong.append(f"{name}: dropped {dropped}")
    assert not wrong, wrong


def test_0101_bvh_tpose_dropped(shared_data):
    nodes = load_nodes(_info(shared_data / "cmu_mocap/bvh_mb/01_01.bvh"))
    assert nodes.num_dropped == 1
    assert nodes.pos_m.shape[0] == 2751  # = frames of asf_amc/01_01.amc


def _kabsch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t minimising |R a + t - b| over point sets (N, 3) (Kabsch 1976)."""
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    return r, cb - r @ ca


def test_0101_bvh_matches_amc(shared_data):
    bvh = load_nodes(_info(shared_data / "cmu_mocap/bvh_mb/01_01.bvh"))
    amc = load_nodes(_info(shared_data / "cmu_mocap/asf_amc/01_01.amc"))
    pb, pa = bvh.pos_m, amc.pos_m
    assert pb.shape[0] == pa.shape[0]
    bi, ai = bvh.table.skeleton.index, amc.table.skeleton.index
    lower = {"LeftUpLeg": "lhipjoint", "RightUpLeg": "rhipjoint", "LeftLeg": "lfemur", "RightLeg": "rfemur",
             "LeftFoot": "ltibia", "RightFoot": "rtibia"}
    arms = {"LeftArm": "lclavicle", "RightArm": "rclavicle", "LeftForeArm": "lhumerus", "RightForeArm": "rhumerus",
            "LeftHand": "lradius", "RightHand": "rradius"}
    # Below the thorax: one global rigid alignment over all frames.
    xb = pb[:, [bi(k) for k in lower]].reshape(-1, 3)  # (T*6, 3)
    xa = pa[:, [ai(v) for v in lower.values()]].reshape(-1, 3)
    r, t = _kabsch(xb, xa)
    err = np.linalg.norm(xb @ r.T + t - xa, axis=-1)
    # Both are CMU's own solve (cgspeed converted the AMC), so they agree to the BVH's 5 decimals (~5 um
    # measured), far inside the few cm a rigid alignment of independent solves would allow.
    assert np.median(err) < 1e-4 and err.max() < 1e-3, \
        f"hips/knees/ankles: median {np.median(err) * 1000:.4f} mm, max {err.max() * 1000:.4f} mm"
    # The thorax fact: cgspeed's BVH omits the 2.06-unit thorax bone, so the shoulders sit 0.117 m off.
    shift = np.linalg.norm(pb[:, bi("LeftArm")] - pa[:, ai("lclavicle")], axis=-1)
    assert np.allclose(shift, 0.117, atol=0.002), f"shoulder offset {shift.min():.4f}-{shift.max():.4f} m"
    # Arms after per-bone alignment (each joint relative to its shoulder): the same motion.
    for side in ("Left", "Right"):
        sb, sa = pb[:, bi(f"{side}Arm")], pa[:, ai(arms[f"{side}Arm"])]
        for k in (f"{side}ForeArm", f"{side}Hand"):
            e = np.linalg.norm((pb[:, bi(k)] - sb) - (pa[:, ai(arms[k])] - sa), axis=-1)
            assert np.median(e) < 1e-4 and e.max() < 1e-3, \
                f"{k} rel. shoulder: median {np.median(e) * 1000:.4f} mm, max {e.max() * 1000:.4f} mm"


# --- head centre and nose ----------------------------------------------------------------------------------

WALKS = ["cmu_mocap/bvh_mb/02_01", "cmu_mocap/asf_amc_csci520/07_05", "cmu_mocap/bvh_max/131_01",
         "cmu_mocap/bvh_daz_jaanga/16_15", "accad_mocap/bvh_male1/Male1_B3_Walk",
         "accad_mocap/bvh_female1/Female1_B03_Walk1", "accad_mocap/bvh_male2/Male2_B3_Walk",
         "cmu_mocap/bvh_mb_fbx_isaac/07_01"]


@pytest.mark.parametrize("name", WALKS)
def test_nose_in_front_and_rigid(shared_data, nodes_cache, name):
    info = CLIPS[name]
    p = nodes_to_clip(info, nodes_cache(info)).pose3d_world_m
    offset = p[:, J["neck"]] - p[:, J["head"]]  # the lifting skeleton's "neck" is the nose
    ahead = np.einsum("tc,tc->t", offset, _upright_forward(p))
    dist = np.linalg.norm(offset, axis=-1)
    assert ahead.min() > 0.02, f"{name}: nose ahead of head centre by {ahead.min():.3f} m at worst"
    assert dist.std() < 1e-9, f"{name}: nose-head distance {dist.mean():.4f} +- {dist.std():.1e} m"
    assert 0.07 < dist.mean() < 0.14, f"{name}: nose-head distance {dist.mean():.4f} m"


def test_walk_direction_is_body_forward(shared_data, nodes_cache):
    """Left/right are not swapped: walking goes the way the body faces (up x right = forward)."""
    info = CLIPS["cmu_mocap/asf_amc_csci520/07_05"]
    p = nodes_to_clip(info, nodes_cache(info)).pose3d_world_m
    vel = np.gradient(p[:, J["pelvis"]], axis=0)
    vel[:, 2] = 0
    cos = np.einsum("tc,tc->t", vel, _upright_forward(p)) / np.linalg.norm(vel, axis=-1)
    assert np.median(cos) > 0.9, f"median cos(walk, forward) {np.median(cos):.3f}"


# --- frame rates and resampling ----------------------------------------------------------------------------

def test_true_fps_table():
    assert true_fps(_info(Path("x.bvh"), subject="cmu:60"), 120.0) == 60.0
    assert true_fps(_info(Path("x.bvh"), subject="cmu:60/61"), 120.0) == 60.0
    assert true_fps(_info(Path("x.bvh"), subject="cmu:60"), 30.0) == 30.0  # already downsampled
    assert true_fps(_info(Path("x.bvh"), subject="cmu:01"), 120.0) == 120.0
    assert true_fps(_info(Path("x.bvh"), dataset="accad_mocap", subject="accad:Male1"), 120.0) == 120.0


@pytest.mark.parametrize("name", ["cmu_mocap/asf_amc/01_01", "cmu_mocap/bvh_mb/02_01"])
def test_resample_120_to_30_picks_frames(shared_data, nodes_cache, name):
    info = CLIPS[name]
    native = nodes_to_clip(info, nodes_cache(info))
    down = nodes_to_clip(info, nodes_cache(info), fps=30)
    T = native.pose3d_world_m.shape[0]
    assert native.fps == 120 and down.fps == 30
    assert down.pose3d_world_m.shape[0] == -(-T // 4), f"T={T} -> {down.pose3d_world_m.shape[0]}"
    np.testing.assert_array_equal(down.pose3d_world_m, native.pose3d_world_m[::4])


def test_nominal_fps():
    assert nominal_fps(1 / 0.0083333) == 120.0
    assert nominal_fps(1 / 0.008333) == 120.0
    assert nominal_fps(1 / 0.0333333) == 30.0
    assert nominal_fps(1 / 0.03) == pytest.approx(33.333333)


def test_resample_linear_known_answer():
    x = np.arange(5.0)[:, None] * [1.0, -2.0]  # (5, 2) ramp at 10 fps
    y = resample(x, 10, 25)  # every 0.4 input frames
    np.testing.assert_allclose(y[:, 0], np.arange(11) * 0.4)
    np.testing.assert_allclose(y[:, 1], np.arange(11) * -0.8)
    np.testing.assert_array_equal(resample(x, 10, 10), x)
    assert resample(x, 10, 4).shape[0] == 2  # t = 0, 0.25 s; 0.5 s is past the last frame (0.4 s)


# --- bad input ---------------------------------------------------------------------------------------------

def _copy_with(shared_data: Path, tmp_path: Path, edit) -> Path:
    src = shared_data / "cmu_mocap/bvh_mb/02_01.bvh"
    dst = tmp_path / "02_01.bvh"
    dst.write_text(edit(src.read_text()))
    return dst


@pytest.mark.parametrize("case", ["nan", "empty", "missing", "unknown_skeleton", "bad_fps", "suffix"])
def test_bad_clip_raises_input_error(shared_data, tmp_path, case):
    if case == "nan":
        path = _copy_with(shared_data, tmp_path, lambda t: t[: t.rindex("\n", 0, -2)] + "\n" +
                          " ".join(["nan"] * 96) + "\n")
    elif case == "empty":
        path = _copy_with(shared_data, tmp_path,
                          lambda t: t.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.008333\n")
    elif case == "missing":
        path = tmp_path / "gone.bvh"
    elif case == "unknown_skeleton":
        path = _copy_with(shared_data, tmp_path, lambda t: t.replace("LeftUpLeg", "LeftThigh"))
    elif case == "suffix":
        path = tmp_path / "clip.fbx"
        path.write_text("x")
    else:
        path = shared_data / "cmu_mocap/bvh_mb/02_01.bvh"
    with pytest.raises(InputError) as err:
        load_clip(_info(path, subject="cmu:02"), fps=-1 if case == "bad_fps" else None)
    assert str(path) in str(err.value), str(err.value)

