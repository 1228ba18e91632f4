"""The ``safetymix`` entry point: usage errors are click's one-line messages, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safetymix import __version__
from safetymix.cli.main import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real console script (``safetymix.cli.main:run``) in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": SRC}
    code = "from safetymix.cli.main import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_bare_command_prints_help_and_exits_2():
    proc = run_cli()
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Usage: " in proc.stderr + proc.stdout
    assert "select" in proc.stderr + proc.stdout


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["select", "--bogus"], "No such option: --bogus"),
        (["select"], "Missing argument 'pool'"),
        (["mix", "a.jsonl"], "Missing argument 'picks'"),
        (["sweep", "x.yaml", "--dry-run", "true"], "unexpected extra argument"),
        (["no-such-command"], "No such command"),
        (["train", "--lora-r", "abc"], "Invalid value for '--lora-r'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1 and message in error_lines[0]


def test_usage_error_from_the_console_script_has_no_traceback():
    proc = run_cli("select", "--bogus")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Error: No such option: --bogus" in proc.stderr


def test_data_error_exits_1(tmp_path, capsys):
    assert main(["select", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "p.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
