"""BVH reader and forward kinematics: known answers on tiny files, bad input, and every staged CMU BVH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.bvh import forward_kinematics, read_bvh
from lift3d.mocap.clip import ClipInfo
from lift3d.mocap.loader import load_nodes
from lift3d.paths import shared_data_dir

# A 2-joint chain along x with an End Site; the root has absolute position channels.
CHAIN = """HIERARCHY
ROOT Root
{
\tOFFSET 5 5 5
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
\tJOINT Link
\t{
\t\tOFFSET 1 0 0
\t\tCHANNELS 3 Zrotation Yrotation Xrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 1 0 0
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
0 0 0 0 0 0 90 0 0
"""


def _write(tmp_path: Path, text: str, name: str = "clip.bvh", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_chain_structure(tmp_path):
    m = read_bvh(_write(tmp_path, CHAIN))
    assert m.names == ("Root", "Link", "Link_end")
    assert m.parents == (-1, 0, 1)
    assert m.is_end_site == (False, False, True)
    assert m.rotation_orders == ("ZYX", "ZYX", "")
    assert m.motion.shape == (3, 9)
    assert m.fps == pytest.approx(30.0, rel=1e-5)


def test_chain_fk_known_answer(tmp_path):
    pos, rot = forward_kinematics(read_bvh(_write(tmp_path, CHAIN)))
    # Frame 0: rest pose; position channels replace the root OFFSET (5 5 5), they do not add to it.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], atol=1e-12)
    # Frame 1: root at (1, 2, 3) turned 90 deg about z: the chain points along +y.
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [1, 3, 3], [1, 4, 3]], atol=1e-12)
    np.testing.assert_allclose(rot[1, 0], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    # Frame 2: only the Link turns 90 deg about z: the End Site swings from (2,0,0) to (1,1,0).
    np.testing.assert_allclose(pos[2], [[0, 0, 0], [1, 0, 0], [1, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(rot[2, 2], rot[2, 1])  # End Sites carry their parent's rotation


def test_intrinsic_order(tmp_path):
    """``Zrotation Xrotation Yrotation`` means R = Rz @ Rx @ Ry (intrinsic, in listed order)."""
    text = CHAIN.replace("CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Xrotation Yrotation")
    text = text.split("MOTION")[0] + "MOTION\nFrames: 1\nFrame Time: 0.01\n0 0 0 0 0 0 90 90 0\n"
    _, rot = forward_kinematics(read_bvh(_write(tmp_path, text)))
    rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    np.testing.assert_allclose(rot[0, 1], rz @ rx, atol=1e-12)


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_line_endings(tmp_path, newline):
    ref = read_bvh(_write(tmp_path, CHAIN))
    other = read_bvh(_write(tmp_path, CHAIN, "other.bvh", newline))
    np.testing.assert_array_equal(ref.motion, other.motion)
    assert ref.names == other.names


def test_mixed_endings_and_spaces(tmp_path):
    text = CHAIN.replace("\t", "  ")
    lines = text.split("\n")
    mixed = "".join(l + ("\r\n" if i % 2 else "\n") for i, l in enumerate(lines))
    assert read_bvh(_write(tmp_path, mixed)).num_frames == 3


def _motion_lines(text: str) -> tuple[str, list[str]]:
    head, body = text.split("Frame Time: 0.0333333\n")
    return head + "Frame Time: 0.0333333\n", body.strip().split("\n")


def _bad_inputs() -> dict[str, str]:
    head, rows = _motion_lines(CHAIN)
    return {
        "truncated": head + "\n".join(rows[:2]) + "\n",
        "extra_line": head + "\n".join(rows + rows[:1]) + "\n",
        "channel_count": head + "\n".join([rows[0], rows[1] + " 7", rows[2]]) + "\n",
        "nan": head + "\n".join([rows[0], rows[1].replace("90", "nan"), rows[2]]) + "\n",
        "non_numeric": head + "\n".join([rows[0], rows[1].replace("90", "ninety"), rows[2]]) + "\n",
        "garbage": "this is not a bvh file\nat all\n",
        "no_brace": CHAIN.replace("ROOT Root\n{", "ROOT Root\n"),
        "unknown_channel": CHAIN.replace("Xposition", "Xpos"),
        "bad_offset": CHAIN.replace("OFFSET 1 0 0", "OFFSET 1 zero 0", 1),
        "zero_frames": CHAIN.replace("Frames: 3", "Frames: 0"),
        "bad_frame_time": CHAIN.replace("Frame Time: 0.0333333", "Frame Time: fast"),
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs()))
def test_bad_input_names_file(tmp_path, case):
    path = _write(tmp_path, _bad_inputs()[case], f"{case}.bvh")
    with pytest.raises(InputError) as err:
        read_bvh(path)
    assert str(path) in str(err.value), str(err.value)


def test_bad_input_names_line(tmp_path):
    head, rows = _motion_lines(CHAIN)
    path = _write(tmp_path, head + "\n".join([rows[0], rows[1] + " 7", rows[2]]) + "\n")
    with pytest.raises(InputError, match=r"line 20: 10 values, expected 9"):
        read_bvh(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="nope.bvh"):
        read_bvh(tmp_path / "nope.bvh")
    binary = tmp_path / "binary.bvh"
    binary.write_bytes(b"\x00\x01\x02HIERARCHY")
    with pytest.raises(InputError, match="binary.bvh"):
        read_bvh(binary)


# --- every CMU BVH in shared/data -------------------------------------------------------------------------

def _cmu_bvh_files() -> list[str]:
    root = shared_data_dir() / "cmu_mocap"
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.bvh")) if root.is_dir() else []


@pytest.mark.parametrize("rel", _cmu_bvh_files())
def test_cmu_bvh_parses_with_constant_bones(shared_data, rel):
    path = shared_data / "cmu_mocap" / rel
    motion = read_bvh(path)
    subject = rel.split("/")[-1].split("_")[0]
    info = ClipInfo(path=path, dataset="cmu_mocap", subject=f"cmu:{subject}", action="", split="train")
    nodes = load_nodes(info)
    pos = nodes.pos_m  # (T, J, 3) metres
    parents = np.array(nodes.table.skeleton.parents)
    child = np.flatnonzero(parents >= 0)
    lengths = np.linalg.norm(pos[:, child] - pos[:, parents[child]], axis=-1)  # (T, bones)
    spread_mm = 1000 * (lengths.max(0) - lengths.min(0)).max()
    assert spread_mm < 1.0, f"{rel}: bone-length spread {spread_mm:.2e} mm"
    assert motion.num_frames == pos.shape[0] + nodes.num_dropped
