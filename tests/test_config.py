from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lift3d.config import load_config, to_dict
from lift3d.data.build_mocap import BuildMocapConfig
from lift3d.errors import ConfigError
from lift3d.paths import REPO_ROOT


@dataclass
class Inner:
    a: float = 1.0
    b: tuple[float, float] = (0.0, 1.0)


@dataclass
class Outer:
    name: str
    n: int = 3
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)


def test_load_with_overrides(tmp_path: Path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\ninner: {a: 2}\n")
    cfg = load_config(Outer, p, ["n=5", "inner.b=[1, 2]", "tags=[u, v]"])
    assert cfg == Outer(name="x", n=5, inner=Inner(a=2.0, b=(1.0, 2.0)), tags=["u", "v"])


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        ("name: x\nbogus: 1\n", [], "unknown key"),
        ("n: 1\n", [], "missing required key 'name'"),
        ("name: x\nn: 1.5\n", [], "expected an integer"),
        ("name: x\n", ["inner.zz=1"], "unknown key"),
        ("name: x\n", ["inner.b=[1, 2, 3]"], "expected 2 values"),
        ("name: x\n", ["nonsense"], "key=value"),
        ("- a\n- b\n", [], "top level must be a mapping"),
    ],
)
def test_errors(tmp_path: Path, text, overrides, message):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, p, overrides)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(Outer, tmp_path / "missing.yaml")


def test_shipped_mocap_config_equals_defaults():
    shipped = yaml.safe_load((REPO_ROOT / "configs/data/mocap.yaml").read_text())
    assert shipped == to_dict(BuildMocapConfig())
    assert load_config(BuildMocapConfig, REPO_ROOT / "configs/data/mocap.yaml") == BuildMocapConfig()


def test_shipped_iso_config_equals_defaults():
    from lift3d.iso import IsoConfig

    shipped = yaml.safe_load((REPO_ROOT / "configs/iso.yaml").read_text())
    assert shipped == to_dict(IsoConfig())
