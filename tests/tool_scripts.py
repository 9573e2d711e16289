"""Scripts under tools/ (not a package) loaded as modules, so tests can call their pieces."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from lift3d.paths import REPO_ROOT


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module: ``load_tool("export_checkpoint")``, ``load_tool("bench/bench_strides")``."""
    path = REPO_ROOT / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
