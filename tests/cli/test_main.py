import subprocess
import sys

from lift3d.cli.main import main


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "data" in out


def test_console_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "lift3d", "data", "build-mocap", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--views" in r.stdout and "--noise" in r.stdout
