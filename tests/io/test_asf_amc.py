"""ASF/AMC reader and CMU-convention forward kinematics: known answers, bad input, every staged AMC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lift3d.errors import InputError
from lift3d.io.asf_amc import forward_kinematics, read_amc, read_asf
from lift3d.paths import shared_data_dir

# root -> upper (along +x, length 2, dof rz) -> lower (along +x, length 1, axis rotated 90 deg about z, dof rx).
ASF = """# tiny skeleton
:version 1.10
:name test
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name upper
     direction 1 0 0
     length 2
     axis 0 0 0 XYZ
    dof rz
    limits (-180.0 180.0)
  end
  begin
     id 2
     name lower
     direction 1 0 0
     length 1
     axis 0 0 90 XYZ
    dof rx
    limits (-180.0
            180.0)
  end
:hierarchy
  begin
    root upper
    upper lower
  end
"""

AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 0 0 0 0 0 0
upper 0
lower 0
2
root 1 2 3 0 0 0
upper 90
lower 0
3
root 0 0 0 0 0 0
upper 0
lower 90
"""


def _write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


@pytest.fixture
def tiny(tmp_path):
    asf = read_asf(_write(tmp_path, "t.asf", ASF, "\r\n"))
    return asf, read_amc(_write(tmp_path, "t_01.amc", AMC), asf)


def test_asf_structure(tiny):
    asf, amc = tiny
    assert asf.names == ("root", "upper", "lower")
    assert asf.parents == (-1, 0, 1)
    assert asf.dofs == (("rx", "ry", "rz"), ("rz",), ("rx",))
    assert asf.unit_m == pytest.approx(0.0254 / 0.45)  # 0.0564 m per unit
    assert amc.num_frames == 3


def test_fk_known_answer(tiny):
    _, amc = tiny
    pos, rot = forward_kinematics(amc)
    # Rest: the chain lies along +x; joint positions are bone ends.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [2, 0, 0], [3, 0, 0]], atol=1e-12)
    # Frame 2: root translated to (1,2,3); upper turned 90 deg about z: the chain points along +y.
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [1, 4, 3], [1, 5, 3]], atol=1e-12)
    # Frame 3: lower's local x axis is the world y axis (axis 0 0 90): rx 90 = a turn about world y,
    # so R = C @ Rx(90) @ C^-1 = Ry(90) maps the bone direction +x to -z.
    np.testing.assert_allclose(pos[2], [[0, 0, 0], [2, 0, 0], [2, 0, -1]], atol=1e-12)
    np.testing.assert_allclose(rot[2, 2], [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], atol=1e-12)


def test_root_order_from_asf(tmp_path):
    asf = read_asf(_write(tmp_path, "t.asf", ASF.replace("order TX TY TZ RX RY RZ", "order RZ RY RX TX TY TZ")))
    amc = read_amc(_write(tmp_path, "t_01.amc", "1\nroot 90 0 0 1 2 3\nupper 0\nlower 0\n"), asf)
    pos, _ = forward_kinematics(amc)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 4, 3], [1, 5, 3]], atol=1e-12)


def _bad_amc() -> dict[str, str]:
    return {
        "missing_bone": AMC.replace("lower 90\n", ""),
        "wrong_count": AMC.replace("upper 90", "upper 90 1"),
        "nan": AMC.replace("upper 90", "upper nan"),
        "non_numeric": AMC.replace("upper 90", "upper ninety"),
        "unknown_bone": AMC.replace("lower 90", "elbow 90"),
        "garbage": "hello world\nthis is not amc\n",
        "empty": ":FULLY-SPECIFIED\n:DEGREES\n",
        "skipped_frame": AMC.replace("\n3\n", "\n4\n"),
    }


@pytest.mark.parametrize("case", sorted(_bad_amc()))
def test_bad_amc_names_file(tmp_path, tiny, case):
    asf, _ = tiny
    path = _write(tmp_path, f"{case}.amc", _bad_amc()[case])
    with pytest.raises(InputError) as err:
        read_amc(path, asf)
    assert str(path) in str(err.value), str(err.value)


def test_bad_amc_names_line(tmp_path, tiny):
    asf, _ = tiny
    path = _write(tmp_path, "bad.amc", AMC.replace("upper 90", "upper ninety"))
    with pytest.raises(InputError, match=r"bad\.amc: line 10: non-numeric value 'ninety' for upper"):
        read_amc(path, asf)


def _bad_asf() -> dict[str, str]:
    return {
        "no_length": ASF.replace("     length 2\n", ""),
        "bad_direction": ASF.replace("direction 1 0 0", "direction 1 x 0", 1),
        "unknown_parent": ASF.replace("upper lower", "elbow lower"),
        "not_in_hierarchy": ASF.replace("    upper lower\n", ""),
        "translation_dof": ASF.replace("dof rz", "dof tx"),
        "bad_axis_order": ASF.replace("axis 0 0 0 XYZ", "axis 0 0 0 XXY"),
        "garbage": "\x7fELF garbage\n",
    }


@pytest.mark.parametrize("case", sorted(_bad_asf()))
def test_bad_asf_names_file(tmp_path, case):
    path = _write(tmp_path, f"{case}.asf", _bad_asf()[case])
    with pytest.raises(InputError) as err:
        read_asf(path)
    assert str(path) in str(err.value), str(err.value)


def test_missing_files(tmp_path, tiny):
    asf, _ = tiny
    with pytest.raises(InputError, match="nope.asf"):
        read_asf(tmp_path / "nope.asf")
    with pytest.raises(InputError, match="nope.amc"):
        read_amc(tmp_path / "nope.amc", asf)


# --- every CMU AMC in shared/data -------------------------------------------------------------------------

def _cmu_amc_files() -> list[str]:
    root = shared_data_dir() / "cmu_mocap"
    return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.amc")) if root.is_dir() else []


@pytest.mark.parametrize("rel", _cmu_amc_files())
def test_cmu_amc_parses_with_constant_bones(shared_data, rel):
    path = shared_data / "cmu_mocap" / rel
    asf = read_asf(path.with_name(path.stem.split("_")[0] + ".asf"))
    assert asf.unit_m == pytest.approx(0.05644, abs=1e-5)
    pos, _ = forward_kinematics(read_amc(path, asf))
    pos = pos * asf.unit_m  # (T, J, 3) metres
    parents = np.array(asf.parents)
    child = np.flatnonzero(parents >= 0)
    lengths = np.linalg.norm(pos[:, child] - pos[:, parents[child]], axis=-1)  # (T, bones)
    spread_mm = 1000 * (lengths.max(0) - lengths.min(0)).max()
    assert spread_mm < 1.0, f"{rel}: bone-length spread {spread_mm:.2e} mm"
    np.testing.assert_allclose(lengths[0], asf.lengths[child] * asf.unit_m, atol=1e-9)
    # Standing height, feet to head top (end of the head bone), in a plausible adult range.
    up = pos[..., 1]
    height = np.median(up.max(1) - up.min(1))
    assert 1.3 < height < 1.9, f"{rel}: median head-top-to-foot height {height:.3f} m"
