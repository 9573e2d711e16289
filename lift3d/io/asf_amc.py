"""Acclaim skeleton (ASF) and motion (AMC) files, as the CMU mocap database uses them, with forward kinematics.

ASF holds a skeleton: per bone a unit ``direction`` and ``length`` in the global rest frame, an ``axis``
(Euler angles and order) that defines the bone's local frame ``C``, and its degrees of freedom ``dof``; the
``:root`` section gives the root's channel ``order`` and its own axis. AMC holds one block per frame: a frame
number, then a line per bone with its dof values in dof order (``:FULLY-SPECIFIED``).

Forward kinematics in the CMU convention (CMU Graphics Lab, "ASF/AMC file format"; the same as the CMU
``amc_parser`` and USC CSCI 520 mocap player):

- per bone ``L = C @ M @ C^-1`` with ``M`` the dof rotation (angles applied in dof order about fixed axes, so
  dof ``rx ry rz`` gives ``M = Rz @ Ry @ Rx``) and ``C`` the axis rotation built the same way;
- global ``G_b = G_parent @ L_b``, and the bone's end ``e_b = e_parent + length_b * G_b @ direction_b``;
- the root: ``G_root = C_root @ M_root @ C_root^-1`` with ``M_root`` from the AMC rotation values in the ASF
  ``order``; its position is the AMC translation (absolute; the ASF ``position`` is the rest position and
  is not added, as in CMU's own player).

Joint positions are bone *ends*: the node named ``lfemur`` is the knee, ``lhipjoint`` the hip joint centre.
Lengths are in ASF units; ``:units length L`` means a unit is ``1/L`` inch, so CMU's ``length 0.45`` gives
``0.0254 / 0.45 = 0.0564 m`` per unit (:attr:`AsfSkeleton.unit_m`).

Example::

    asf = read_asf("shared/data/cmu_mocap/asf_amc/01.asf")
    amc = read_amc("shared/data/cmu_mocap/asf_amc/01_01.amc", asf)
    pos, rot = forward_kinematics(amc)      # (T, 31, 3) ASF units, (T, 31, 3, 3)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from lift3d.errors import InputError

log = logging.getLogger(__name__)

_ROT_DOFS = {"rx": "x", "ry": "y", "rz": "z"}
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")


@dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """A parsed ASF skeleton. Node 0 is ``root``; nodes 1.. are bones with parents before children.

    Attributes:
        path: the file read.
        names: ``("root", bone, ...)``.
        parents: parent node index, ``-1`` for the root.
        directions: ``(J, 3)`` unit bone direction in the global rest frame (zero for the root).
        lengths: ``(J,)`` bone lengths in ASF units (zero for the root).
        axes: ``(J, 3, 3)`` the local-frame rotation ``C`` of each node (root: from ``orientation``).
        dofs: rotational dof names per node in AMC value order, e.g. ``("rx", "rz")``; the root's are from
            ``order`` (its translation channels are kept separately).
        root_order: the root's AMC channel order, e.g. ``("TX", "TY", "TZ", "RX", "RY", "RZ")``.
        unit_m: metres per ASF length unit (``0.0254 / length``).
        degrees: whether angles are degrees (``angle deg``) or radians.
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    directions: np.ndarray
    lengths: np.ndarray
    axes: np.ndarray
    dofs: tuple[tuple[str, ...], ...]
    root_order: tuple[str, ...]
    unit_m: float
    degrees: bool

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.path}: no bone {name!r}") from None


@dataclass(frozen=True, eq=False)
class AmcMotion:
    """A parsed AMC file bound to its skeleton.

    Attributes:
        path: the file read.
        asf: the skeleton the values refer to.
        values: per node, ``(T, len(dofs))`` dof values (angles as in the file); the root's array is
            ``(T, 6)`` in ``asf.root_order``.
        degrees: angle unit of the values (``:DEGREES`` / ``:RADIANS``; else the ASF's).
    """

    path: Path
    asf: AsfSkeleton
    values: tuple[np.ndarray, ...]
    degrees: bool

    @property
    def num_frames(self) -> int:
        return self.values[0].shape[0]


def _read_lines(path: Path, kind: str) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {kind} file: {e.strerror or e}", path) from None
    if b"\0" in data:
        raise InputError(f"not a text file (contains NUL bytes); expected an {kind} file", path)
    return data.decode("utf-8", errors="replace").splitlines()


def _floats(tokens: list[str], n: int, what: str, lineno: int, path: Path) -> np.ndarray:
    if len(tokens) < n:
        raise InputError(f"line {lineno}: {what} needs {n} numbers, found {len(tokens)}", path)
    try:
        out = np.array([float(t) for t in tokens[:n]])
    except ValueError:
        raise InputError(f"line {lineno}: {what} has a non-numeric value in {tokens[:n]}", path) from None
    if not np.isfinite(out).all():
        raise InputError(f"line {lineno}: {what} is not finite: {tokens[:n]}", path)
    return out


def _axis_matrix(angles: np.ndarray, order: str, degrees: bool, lineno: int, path: Path) -> np.ndarray:
    if sorted(order.upper()) != ["X", "Y", "Z"]:
        raise InputError(f"line {lineno}: axis order {order!r} must be a permutation of XYZ", path)
    # Angles about fixed axes applied in the listed order: lower-case = extrinsic in scipy.
    return Rotation.from_euler(order.lower(), angles, degrees=degrees).as_matrix()


def read_asf(path: str | PathLike) -> AsfSkeleton:
    """Read an ASF skeleton; :class:`InputError` naming file and line on anything malformed."""
    path = Path(path)
    lines = _read_lines(path, "ASF")
    section = None
    units: dict[str, str] = {}
    root: dict[str, tuple[list[str], int]] = {}
    bones: list[dict] = []
    bone: dict | None = None
    hierarchy: list[tuple[list[str], int]] = []
    for lineno, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        tok = text.split()
        if tok[0].startswith(":"):
            section = tok[0][1:].lower()
            tok = tok[1:]
            if section == "units":
                for k in range(0, len(tok) - 1, 2):
                    units[tok[k]] = tok[k + 1]
            continue
        if section == "units":
            if len(tok) != 2:
                raise InputError(f"line {lineno}: expected 'key value' under :units, found {text!r}", path)
            units[tok[0]] = tok[1]
        elif section == "root":
            root[tok[0].lower()] = (tok[1:], lineno)
        elif section == "bonedata":
            if tok[0] == "begin":
                if bone is not None:
                    raise InputError(f"line {lineno}: 'begin' inside a bone block (missing 'end')", path)
                bone = {"_line": lineno, "dof": ([], lineno)}
            elif tok[0] == "end":
                if bone is None:
                    raise InputError(f"line {lineno}: 'end' without 'begin'", path)
                bones.append(bone)
                bone = None
            elif bone is None:
                raise InputError(f"line {lineno}: {tok[0]!r} outside a begin/end bone block", path)
            elif tok[0] in ("id", "name", "direction", "length", "axis", "dof"):
                bone[tok[0]] = (tok[1:], lineno)
            # limits (possibly over several lines), bodymass, cofmass: not needed for kinematics.
        elif section == "hierarchy":
            if tok[0] not in ("begin", "end"):
                hierarchy.append((tok, lineno))
        # :version, :name, :documentation, :skin: free text, ignored.
    if bone is not None:
        raise InputError(f"line {bone['_line']}: bone block never ends", path)
    if not bones:
        raise InputError("no :bonedata bones; expected an ASF skeleton file", path)
    if not hierarchy:
        raise InputError("no :hierarchy section", path)

    degrees = units.get("angle", "deg").lower().startswith("deg")
    try:
        length_scale = float(units.get("length", "1.0"))
    except ValueError:
        raise InputError(f":units length {units['length']!r} is not a number", path) from None
    if not length_scale > 0:
        raise InputError(f":units length {length_scale} must be positive", path)
    if "length" not in units:
        log.warning("%s: no ':units length'; assuming 1 unit = 1 inch", path)

    # Root.
    order_tok, order_line = root.get("order", (list(_ROOT_CHANNELS), 0))
    root_order = tuple(t.upper() for t in order_tok)
    if sorted(root_order) != sorted(_ROOT_CHANNELS):
        raise InputError(f"line {order_line}: root order {order_tok} must be a permutation of {_ROOT_CHANNELS}", path)
    axis_tok, axis_line = root.get("axis", (["XYZ"], 0))
    orient_tok, orient_line = root.get("orientation", (["0", "0", "0"], 0))
    c_root = _axis_matrix(_floats(orient_tok, 3, "root orientation", orient_line, path), axis_tok[0], degrees,
                          axis_line, path)
    root_dofs = tuple(c.lower() for c in root_order if c.startswith("R"))

    # Bones.
    by_name: dict[str, dict] = {}
    for b in bones:
        for key in ("name", "direction", "length", "axis"):
            if key not in b:
                raise InputError(f"line {b['_line']}: bone block has no {key!r}", path)
        name_tok, name_line = b["name"]
        if len(name_tok) != 1:
            raise InputError(f"line {name_line}: bad bone name {' '.join(name_tok)!r}", path)
        if name_tok[0] in by_name or name_tok[0] == "root":
            raise InputError(f"line {name_line}: duplicate bone {name_tok[0]!r}", path)
        by_name[name_tok[0]] = b

    parent_of: dict[str, str] = {}
    for tok, lineno in hierarchy:
        for child in tok[1:]:
            if tok[0] != "root" and tok[0] not in by_name:
                raise InputError(f"line {lineno}: hierarchy names unknown bone {tok[0]!r}", path)
            if child not in by_name:
                raise InputError(f"line {lineno}: hierarchy names unknown bone {child!r}", path)
            if child in parent_of:
                raise InputError(f"line {lineno}: bone {child!r} has two parents", path)
            parent_of[child] = tok[0]
    orphans = [n for n in by_name if n not in parent_of]
    if orphans:
        raise InputError(f"bones {orphans} are not in the :hierarchy", path)

    # Node order: root, then bones in :bonedata order, except that a bone listed before its parent is
    # moved after it (a stable topological order; CMU files already list parents first).
    names = ["root"]
    pending = list(by_name)
    while pending:
        ready = next((n for n in pending if parent_of[n] in names), None)
        if ready is None:
            raise InputError(f"the :hierarchy has a cycle through {pending}", path)
        names.append(ready)
        pending.remove(ready)
    index = {n: i for i, n in enumerate(names)}

    J = len(names)
    directions = np.zeros((J, 3))
    lengths = np.zeros(J)
    axes = np.empty((J, 3, 3))
    axes[0] = c_root
    dofs: list[tuple[str, ...]] = [root_dofs]
    for n in names[1:]:
        b, j = by_name[n], index[n]
        d = _floats(b["direction"][0], 3, f"direction of {n}", b["direction"][1], path)
        norm = np.linalg.norm(d)
        length = _floats(b["length"][0], 1, f"length of {n}", b["length"][1], path)[0]
        if norm < 1e-9 and length > 0:
            raise InputError(f"line {b['direction'][1]}: bone {n} has a zero direction", path)
        directions[j] = d / norm if norm > 0 else d
        lengths[j] = length
        axis_tok, axis_line = b["axis"]
        if len(axis_tok) != 4:
            raise InputError(f"line {axis_line}: axis of {n} needs 3 angles and an order, found {axis_tok}", path)
        axes[j] = _axis_matrix(_floats(axis_tok, 3, f"axis of {n}", axis_line, path), axis_tok[3], degrees,
                               axis_line, path)
        dof_tok, dof_line = b["dof"]
        bad = [d for d in dof_tok if d.lower() not in _ROT_DOFS]
        if bad:
            raise InputError(f"line {dof_line}: bone {n} has dof {bad}; only rotations rx/ry/rz are supported", path)
        dofs.append(tuple(d.lower() for d in dof_tok))

    return AsfSkeleton(
        path=path,
        names=tuple(names),
        parents=tuple(-1 if n == "root" else index[parent_of[n]] for n in names),
        directions=directions,
        lengths=lengths,
        axes=axes,
        dofs=tuple(dofs),
        root_order=root_order,
        unit_m=0.0254 / length_scale,
        degrees=degrees,
    )


def read_amc(path: str | PathLike, asf: AsfSkeleton) -> AmcMotion:
    """Read an AMC motion for ``asf``; :class:`InputError` naming file and line on anything malformed.

    Frames must be numbered consecutively, and every frame must give every bone that has dofs exactly
    once, with ``len(dof)`` values (6 for the root).
    """
    path = Path(path)
    lines = _read_lines(path, "AMC")
    degrees = asf.degrees
    expect = {n: (6 if n == "root" else len(d)) for n, d in zip(asf.names, asf.dofs)}
    expect = {n: k for n, k in expect.items() if k > 0}
    rows: dict[str, list[list[str]]] = {n: [] for n in expect}
    row_lines: dict[str, list[int]] = {n: [] for n in expect}
    frame_lines: list[int] = []
    frame_number = None
    seen: set[str] = set()

    def close_frame() -> None:
        if frame_lines and seen != set(expect):
            missing = sorted(set(expect) - seen)
            raise InputError(f"line {frame_lines[-1]}: frame {frame_number} misses bones {missing}", path)

    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(":"):
            if frame_lines:
                raise InputError(f"line {lineno}: header keyword {text!r} after the first frame", path)
            if text.upper() == ":RADIANS":
                degrees = False
            elif text.upper() == ":DEGREES":
                degrees = True
            continue
        tok = text.split()
        if len(tok) == 1:
            if not tok[0].isdigit():
                raise InputError(f"line {lineno}: expected a frame number, found {tok[0]!r}", path)
            if frame_number is not None and int(tok[0]) != frame_number + 1:
                raise InputError(f"line {lineno}: frame {tok[0]} follows frame {frame_number}", path)
            close_frame()
            frame_number = int(tok[0])
            frame_lines.append(lineno)
            seen = set()
            continue
        name = tok[0]
        if not frame_lines:
            raise InputError(f"line {lineno}: bone values before the first frame number", path)
        if name not in expect:
            raise InputError(f"line {lineno}: unknown bone {name!r} (or a bone without dofs)", path)
        if name in seen:
            raise InputError(f"line {lineno}: bone {name!r} given twice in one frame", path)
        if len(tok) - 1 != expect[name]:
            raise InputError(f"line {lineno}: {name} has {len(tok) - 1} values, expected {expect[name]}", path)
        seen.add(name)
        rows[name].append(tok[1:])
        row_lines[name].append(lineno)
    if not frame_lines:
        raise InputError("no frames; expected an AMC motion file", path)
    close_frame()

    values = []
    for n in asf.names:
        if n not in expect:
            values.append(np.zeros((len(frame_lines), 0)))
            continue
        try:
            arr = np.array(rows[n], dtype=np.float64)  # (T, dof)
        except ValueError:
            for row, lineno in zip(rows[n], row_lines[n]):
                for x in row:
                    try:
                        float(x)
                    except ValueError:
                        raise InputError(f"line {lineno}: non-numeric value {x!r} for {n}", path) from None
            raise  # unreachable: some value failed above
        bad = ~np.isfinite(arr)
        if bad.any():
            t, k = np.argwhere(bad)[0]
            raise InputError(f"line {row_lines[n][t]}: non-finite value {arr[t, k]} for {n}", path)
        values.append(arr)
    return AmcMotion(path=path, asf=asf, values=tuple(values), degrees=degrees)


def _dof_rotation(angles: np.ndarray, dofs: tuple[str, ...], degrees: bool) -> np.ndarray:
    """``(T, 3, 3)`` rotation of dof angles ``(T, k)`` applied in dof order about fixed axes."""
    T = angles.shape[0]
    if not dofs:
        return np.broadcast_to(np.eye(3), (T, 3, 3))
    return Rotation.from_euler("".join(_ROT_DOFS[d] for d in dofs), angles, degrees=degrees).as_matrix()


def forward_kinematics(motion: AmcMotion) -> tuple[np.ndarray, np.ndarray]:
    """Global bone-end positions ``(T, J, 3)`` in ASF units and bone rotations ``(T, J, 3, 3)``.

    Node 0 is the root (position = AMC translation). ``rotations[:, b]`` maps the global rest frame to the
    bone's current orientation, so ``rotations[:, b] @ directions[b]`` is the bone's current direction.
    Vectorised over frames; the loop is over bones.
    """
    asf = motion.asf
    T, J = motion.num_frames, len(asf.names)
    pos = np.empty((T, J, 3))
    rot = np.empty((T, J, 3, 3))
    root_vals = motion.values[0]
    t_cols = [asf.root_order.index(c) for c in ("TX", "TY", "TZ")]
    r_cols = [i for i, c in enumerate(asf.root_order) if c.startswith("R")]
    for j, p in enumerate(asf.parents):
        c = asf.axes[j]
        if p < 0:
            m = _dof_rotation(root_vals[:, r_cols], asf.dofs[0], motion.degrees)
            rot[:, j] = c @ m @ c.T
            pos[:, j] = root_vals[:, t_cols]
        else:
            m = _dof_rotation(motion.values[j], asf.dofs[j], motion.degrees)
            rot[:, j] = rot[:, p] @ (c @ m @ c.T)
            pos[:, j] = pos[:, p] + asf.lengths[j] * np.einsum("tab,b->ta", rot[:, j], asf.directions[j])
    return pos, rot
