import hashlib

import pytest

from lift3d.errors import InputError
from lift3d.tracking.blazepose_model import TASK_SHA256, build_task, ensure_task


def test_task_builds_reproducibly_from_the_installed_wheel(tmp_path, mediapipe_available):
    out = build_task(tmp_path / "a.task")
    again = build_task(tmp_path / "b.task")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == TASK_SHA256
    assert out.read_bytes() == again.read_bytes()
    assert (tmp_path / "a.task.json").is_file()  # provenance manifest beside it
    assert ensure_task(out) == out


def test_corrupt_or_missing_task_is_an_error(tmp_path):
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match="sha256"):
        ensure_task(bad)
    with pytest.raises(InputError, match="not found"):
        ensure_task(tmp_path / "missing.task")
