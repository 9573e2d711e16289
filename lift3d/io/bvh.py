"""Biovision Hierarchy (BVH) motion files: a strict reader and vectorised forward kinematics.

Format (Meredith & Maddock, "Motion capture file formats explained", 2001): a ``HIERARCHY`` of ``ROOT`` /
``JOINT`` blocks, each with an ``OFFSET`` (the joint's position in its parent's frame) and ``CHANNELS``;
``End Site`` blocks carry only an ``OFFSET``. Then ``MOTION``, ``Frames: N``, ``Frame Time: dt`` and N lines
of channel values in hierarchy order.

Conventions used here:

- Rotation channels are degrees and compose intrinsically in the order they are listed:
  ``Zrotation Yrotation Xrotation`` gives ``R = Rz @ Ry @ Rx``.
- Position channels *replace* the matching OFFSET component (they are absolute in the parent frame); they do
  not add to it. CMU/cgspeed roots have OFFSET 0 so either reading agrees there, but ACCAD roots have an
  OFFSET near the frame-0 root position and absolute position channels (``accad_mocap/SOURCE.md``).
- End Sites become nodes named ``<Parent>_end`` (``<Parent>_end2`` ... if a joint has several); they have no
  channels and an identity local rotation.

The reader tolerates CRLF / mixed line endings and tabs, and is strict about structure: anything that does
not parse, a motion line with the wrong number of values, fewer or more motion lines than ``Frames:``, and
non-finite values raise :class:`~lift3d.errors.InputError` naming the file and line.

Example::

    motion = read_bvh("shared/data/cmu_mocap/bvh_mb/02_01.bvh")
    pos, rot = forward_kinematics(motion)   # (T, J, 3) file units, (T, J, 3, 3)
    pos[:, motion.index("LeftUpLeg")]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from os import PathLike
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from lift3d.errors import InputError

_ROTATION_CHANNELS = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
_POSITION_CHANNELS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A parsed BVH file.

    Attributes:
        path: the file read.
        names: node names in file order; End Sites are ``<Parent>_end``.
        parents: parent index of each node, ``-1`` for the root.
        offsets: ``(J, 3)`` OFFSET of each node in its parent's frame, file units.
        channels: channel names of each node (empty for End Sites).
        rotation_orders: intrinsic rotation order of each node, e.g. ``"ZYX"`` (empty: no rotation channels).
        is_end_site: whether each node is an End Site.
        motion: ``(T, C)`` float64 channel values, C = total channel count, in node order.
        frame_time: seconds per frame as written in the header.
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    rotation_orders: tuple[str, ...]
    is_end_site: tuple[bool, ...]
    motion: np.ndarray
    frame_time: float

    @property
    def num_frames(self) -> int:
        return self.motion.shape[0]

    @property
    def fps(self) -> float:
        """Frame rate as written in the header (see ``lift3d.mocap.loader`` for true rates)."""
        return 1.0 / self.frame_time

    @cached_property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of each node's first channel in :attr:`motion`."""
        starts, c = [], 0
        for ch in self.channels:
            starts.append(c)
            c += len(ch)
        return tuple(starts)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.path}: no node {name!r}") from None


class _Tokens:
    """Whitespace tokens of the header with their 1-based line numbers."""

    def __init__(self, lines: list[str], path: Path):
        self.items: list[tuple[str, int]] = []
        self.path = path
        for lineno, line in enumerate(lines, start=1):
            for tok in line.split():
                self.items.append((tok, lineno))
        self.pos = 0

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else 1
            raise InputError(f"line {last}: file ends while expecting {what}", self.path)
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok != word:
            raise InputError(f"line {line}: expected {word!r}, found {tok!r}", self.path)
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise InputError(f"line {line}: expected a number for {what}, found {tok!r}", self.path) from None
        if not np.isfinite(value):
            raise InputError(f"line {line}: {what} is {tok}", self.path)
        return value


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read BVH file: {e.strerror or e}", path) from None
    if b"\0" in data:
        raise InputError("not a text file (contains NUL bytes); expected a BVH file", path)
    return data.decode("utf-8", errors="replace")


def read_bvh(path: str | PathLike) -> BvhMotion:
    """Read a BVH file; raise :class:`InputError` naming file and line on anything malformed."""
    path = Path(path)
    lines = _read_text(path).splitlines()  # handles \n, \r\n, \r and mixtures
    motion_line = next((i for i, l in enumerate(lines) if l.strip() == "MOTION"), None)
    if motion_line is None:
        raise InputError("no MOTION section; expected a BVH file (HIERARCHY ... MOTION ...)", path)

    tokens = _Tokens(lines[:motion_line], path)
    tokens.expect("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[tuple[float, float, float]] = []
    channels: list[tuple[str, ...]] = []
    is_end: list[bool] = []

    def parse_node(parent: int, name: str, end_site: bool) -> None:
        me = len(names)
        names.append(name)
        parents.append(parent)
        is_end.append(end_site)
        offsets.append((0.0, 0.0, 0.0))
        channels.append(())
        tokens.expect("{")
        tokens.expect("OFFSET")
        offsets[me] = tuple(tokens.number(f"OFFSET of {name}") for _ in range(3))
        if end_site:
            tokens.expect("}")
            return
        tokens.expect("CHANNELS")
        tok, line = tokens.next(f"channel count of {name}")
        if not tok.isdigit():
            raise InputError(f"line {line}: expected a channel count for {name}, found {tok!r}", path)
        chans = []
        for _ in range(int(tok)):
            ch, line = tokens.next(f"a channel name of {name}")
            if ch not in _ROTATION_CHANNELS and ch not in _POSITION_CHANNELS:
                raise InputError(f"line {line}: unknown channel {ch!r} of {name}", path)
            chans.append(ch)
        channels[me] = tuple(chans)
        ends = 0
        while True:
            tok, line = tokens.next(f"JOINT, End Site or '}}' in {name}")
            if tok == "}":
                return
            if tok == "JOINT":
                child, _ = tokens.next("a joint name")
                parse_node(me, child, False)
            elif tok == "End":
                tokens.expect("Site")
                ends += 1
                parse_node(me, f"{name}_end" if ends == 1 else f"{name}_end{ends}", True)
            else:
                raise InputError(f"line {line}: expected JOINT, End Site or '}}' in {name}, found {tok!r}", path)

    tokens.expect("ROOT")
    root, _ = tokens.next("the root name")
    parse_node(-1, root, False)
    if tokens.pos != len(tokens.items):
        tok, line = tokens.items[tokens.pos]
        raise InputError(f"line {line}: unexpected {tok!r} after the hierarchy (only one ROOT is supported)", path)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate joint names {dup}", path)

    rotation_orders = []
    for name, chans in zip(names, channels):
        order = "".join(_ROTATION_CHANNELS[c] for c in chans if c in _ROTATION_CHANNELS)
        if len(order) > 3:
            raise InputError(f"joint {name} has {len(order)} rotation channels; at most 3 are supported", path)
        rotation_orders.append(order)

    motion, frame_time = _read_motion(lines, motion_line, sum(len(c) for c in channels), path)
    return BvhMotion(
        path=path,
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(len(names), 3),
        channels=tuple(channels),
        rotation_orders=tuple(rotation_orders),
        is_end_site=tuple(is_end),
        motion=motion,
        frame_time=frame_time,
    )


def _header_value(line: str, key: str, lineno: int, path: Path) -> str:
    text = line.strip()
    if not text.startswith(key):
        raise InputError(f"line {lineno}: expected {key!r}, found {text[:40]!r}", path)
    return text[len(key):].strip()


def _read_motion(lines: list[str], motion_line: int, num_channels: int, path: Path) -> tuple[np.ndarray, float]:
    """Parse ``Frames:``, ``Frame Time:`` and the motion lines that follow ``MOTION`` (0-based ``motion_line``)."""
    i = motion_line + 1
    if i + 1 >= len(lines):
        raise InputError(f"line {motion_line + 1}: file ends after MOTION; expected 'Frames:' and 'Frame Time:'", path)
    frames_txt = _header_value(lines[i], "Frames:", i + 1, path)
    time_txt = _header_value(lines[i + 1], "Frame Time:", i + 2, path)
    try:
        num_frames = int(frames_txt)
        frame_time = float(time_txt)
    except ValueError:
        raise InputError(
            f"lines {i + 1}-{i + 2}: bad frame count {frames_txt!r} or frame time {time_txt!r}", path) from None
    if num_frames < 1:
        raise InputError(f"line {i + 1}: Frames: {num_frames}; expected at least one frame", path)
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise InputError(f"line {i + 2}: Frame Time {time_txt!r} must be a positive number", path)

    first = i + 2  # 0-based index of the first motion line
    body = [(first + k + 1, l) for k, l in enumerate(lines[first:]) if l.strip()]  # (1-based line, text)
    if len(body) < num_frames:
        last = body[-1][0] if body else first
        raise InputError(
            f"truncated: header says {num_frames} frames but only {len(body)} motion lines follow "
            f"(last at line {last})", path)
    if len(body) > num_frames:
        raise InputError(
            f"line {body[num_frames][0]}: {len(body) - num_frames} motion lines more than the "
            f"{num_frames} frames the header declares", path)
    fields = [l.split() for _, l in body]
    for (lineno, _), f in zip(body, fields):
        if len(f) != num_channels:
            raise InputError(f"line {lineno}: {len(f)} values, expected {num_channels} channels", path)
    try:
        motion = np.array([x for f in fields for x in f], dtype=np.float64)
    except ValueError:
        for (lineno, _), f in zip(body, fields):
            for x in f:
                try:
                    float(x)
                except ValueError:
                    raise InputError(f"line {lineno}: non-numeric value {x!r}", path) from None
        raise  # unreachable: some token failed above
    motion = motion.reshape(num_frames, num_channels)  # (T, C)
    bad = ~np.isfinite(motion)
    if bad.any():
        t, c = np.argwhere(bad)[0]
        raise InputError(f"line {body[t][0]}: non-finite value {motion[t, c]} in channel {c}", path)
    return motion, frame_time


def local_transforms(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Per-node local rotations ``(T, J, 3, 3)`` and translations ``(T, J, 3)`` in file units."""
    T, J = motion.num_frames, len(motion.names)
    rot = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    trans = np.broadcast_to(motion.offsets, (T, J, 3)).copy()
    for j, (chans, start) in enumerate(zip(motion.channels, motion.channel_starts)):
        angles = []
        for k, ch in enumerate(chans):
            if ch in _POSITION_CHANNELS:
                trans[:, j, _POSITION_CHANNELS[ch]] = motion.motion[:, start + k]
            else:
                angles.append(motion.motion[:, start + k])
        if angles:
            # Upper-case sequence = intrinsic rotations in listed order: "ZYX" -> Rz @ Ry @ Rx.
            r = Rotation.from_euler(motion.rotation_orders[j], np.stack(angles, axis=-1), degrees=True)
            rot[:, j] = r.as_matrix()  # (T, 3, 3)
    return rot, trans


def forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Global node positions ``(T, J, 3)`` (file units) and rotations ``(T, J, 3, 3)``.

    ``p_j = p_parent + R_parent @ t_j`` and ``R_j = R_parent @ r_j``, where ``t_j`` is the OFFSET with any
    position channels substituted and ``r_j`` the local rotation. End Sites carry their parent's rotation.
    Vectorised over frames; the loop is over nodes (parents precede children in file order).
    """
    rot_local, trans = local_transforms(motion)
    T, J = rot_local.shape[:2]
    pos = np.empty((T, J, 3))
    rot = np.empty((T, J, 3, 3))
    for j, p in enumerate(motion.parents):
        if p < 0:
            pos[:, j] = trans[:, j]
            rot[:, j] = rot_local[:, j]
        else:
            pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", rot[:, p], trans[:, j])
            rot[:, j] = rot[:, p] @ rot_local[:, j]
    return pos, rot
