"""Shared by the benchmarks: the machine's description and writing a section of BENCHMARKS.md."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "BENCHMARKS.md"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}, no GPU" if not torch.cuda.is_available() else
            f"{cpu}, {os.cpu_count()} cores, {torch.cuda.get_device_name()}, torch {torch.__version__}")


def command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name.replace("python3", "python"), *sys.argv])


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section ``key`` of BENCHMARKS.md, stamped with command, machine and date."""
    stamp = (f"Command: `{command()}`  \nMachine: {machine()}  \n"
             f"Date: {datetime.date.today().isoformat()}\n")
    section = f"<!-- bench:{key} -->\n## {title}\n\n{stamp}\n{body.strip()}\n<!-- /bench:{key} -->"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# lift3d benchmarks\n\nEach section is written by the script named in its command; rerun it to refresh.\n"
    pattern = re.compile(rf"<!-- bench:{re.escape(key)} -->.*?<!-- /bench:{re.escape(key)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    tmp = BENCHMARKS.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, BENCHMARKS)


def table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
