"""``keel-emit`` with a closed or failing standard output or error: the help and version
end with exit 0 when their reader has gone; an artifact that cannot be written whole to
standard output is one line and exit 1, never exit 0, a traceback, an "internal error"
(exit 70) or Python's exit 120."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel_verify.emit.cli import EXIT_BAD_INPUT
from tests.helpers import to_a_pipe_nobody_reads

ROOT = Path(__file__).resolve().parent.parent
EMIT = [sys.executable, "-m", "keel_verify.emit.cli"]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _to_a_pipe_nobody_reads(args: list[str], *, stderr_closed: bool = False
                            ) -> subprocess.CompletedProcess[bytes]:
    return to_a_pipe_nobody_reads([*EMIT, *args], _environment(), stderr_closed=stderr_closed)


@pytest.mark.parametrize("args", [["--help"], ["--version"], [], ["demo", "--help"]])
def test_the_help_and_version_to_a_reader_that_has_gone_exit_0(args: list[str]) -> None:
    """They ended with exit 1 (click's own)."""
    result = _to_a_pipe_nobody_reads(args)
    assert (result.returncode, result.stderr) == (0, b"")


def test_the_version_with_stderr_closed_and_its_reader_gone_exits_0() -> None:
    """It ended with exit 120: Python's last flush of stdout failed with nowhere to say so."""
    assert _to_a_pipe_nobody_reads(["--version"], stderr_closed=True).returncode == 0


def test_the_help_on_a_full_disk_says_so_and_exits_0() -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run([*EMIT, "--help"], stdout=full, stderr=subprocess.PIPE,
                                env=_environment(), timeout=120, check=False)
    assert result.returncode == 0
    assert result.stderr == (b"keel-emit: note: cannot write to standard output (No space left "
                             b"on device); nothing more is written there\n")


def test_an_artifact_to_a_closed_stdout_is_one_line_and_exit_1() -> None:
    """It was "internal error (AttributeError ...)" with exit 70."""
    result = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *EMIT, "demo", "-o", "-"],
                            capture_output=True, env=_environment(), timeout=120, check=False)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr == b"keel-emit: error: standard output is closed; nothing written\n"


def test_an_artifact_to_a_full_disk_is_one_line_and_exit_1() -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run([*EMIT, "demo", "-o", "-"], stdout=full, stderr=subprocess.PIPE,
                                env=_environment(), timeout=120, check=False)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr == (b"keel-emit: error: cannot write to standard output (No space left "
                             b"on device); what it received is not whole\n")


@pytest.mark.parametrize("reads", [0, 10], ids=["gone-before", "gone-mid-write"])
def test_an_artifact_whose_reader_goes_away_is_one_line_and_exit_1(reads: int) -> None:
    """``keel-emit demo -o - | head -c 10`` ended with exit 0: the reader leaving in the
    middle of the write made it return short, without an error, and the rest was dropped.
    The artifact (2,000 entries) is far larger than a pipe holds, so the reader that takes
    10 bytes and leaves does so while the emitter is still writing."""
    if reads == 0:
        result = _to_a_pipe_nobody_reads(["demo", "--events", "2000", "-o", "-"])
        code, stderr = result.returncode, result.stderr
    else:
        process = subprocess.Popen([*EMIT, "demo", "--events", "2000", "-o", "-"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=_environment())
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(reads) == b'{\n  "artif'[:reads]
        process.stdout.close()
        stderr = process.stderr.read()
        code = process.wait(timeout=120)
    assert code == EXIT_BAD_INPUT
    assert stderr == (b"keel-emit: error: cannot write to standard output (its reader went "
                      b"away); what it received is not whole\n")


def test_an_error_with_stderr_closed_keeps_its_exit_code(tmp_path: Path) -> None:
    result = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *EMIT, "replay",
                             str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.json")],
                            capture_output=True, env=_environment(), timeout=120, check=False)
    assert result.returncode == EXIT_BAD_INPUT and result.stdout == b""
    assert not (tmp_path / "o.json").exists()


def test_ctrl_c_during_a_command_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """It was an empty line (click's) and "keel-emit: error: aborted"."""
    output = tmp_path / "demo.json"
    script = ("import os, signal\nfrom keel_verify.emit import cli\n"
              "real = cli.build_demo_artifact\n"
              "def building(*args, **kwargs):\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    return real(*args, **kwargs)\n"
              "cli.build_demo_artifact = building\n"
              "from keel_verify.entry import keel_emit; keel_emit()")
    result = subprocess.run([sys.executable, "-c", script, "demo", "-o", str(output)],
                            capture_output=True, env=_environment(), timeout=120, check=False)
    assert (result.returncode, result.stderr) == (130, b"keel-emit: interrupted\n")
    assert not output.exists() and list(tmp_path.iterdir()) == []


_INTERRUPTED_IMPORT = (
    "import sys\n"
    "INTERRUPTED = sys.argv.pop(1)\n"
    "class Interrupting:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == INTERRUPTED:\n"
    "            raise KeyboardInterrupt\n"
    "        if 'wrapped.' + name == INTERRUPTED:\n"
    "            raise RuntimeError('Error calling __set_name__') from KeyboardInterrupt()\n"
    "sys.meta_path.insert(0, Interrupting())\n")


@pytest.mark.parametrize(("program", "start", "module"), [
    ("keel-verify", "import runpy; runpy.run_module('keel_verify', run_name='__main__')",
     "keel_verify.gate"),
    ("keel-emit", "from keel_verify.entry import keel_emit; keel_emit()",
     "keel_verify.emit.engine"),
    # A KeyboardInterrupt raised in __set_name__ reaches the importer as a RuntimeError.
    ("keel-verify", "import runpy; runpy.run_module('keel_verify', run_name='__main__')",
     "wrapped.keel_verify.gate"),
])
def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130(
        program: str, start: str, module: str) -> None:
    """Ctrl-C in the first tenth of a second, while the command's modules were imported,
    printed a KeyboardInterrupt traceback (here the import of ``module`` is interrupted)."""
    result = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT + start, module,
                             "--version"], capture_output=True, env=_environment(), timeout=120,
                            check=False)
    assert (result.returncode, result.stderr) == (130, f"{program}: interrupted\n".encode())


def test_keygen_does_not_write_a_private_key_to_a_file_named_dash(tmp_path: Path) -> None:
    """``keygen -o -`` wrote the private key into a file named ``-``, while standard
    output, which it seemed to name, carries the public key."""
    result = subprocess.run([*EMIT, "keygen", "-o", "-"], capture_output=True, cwd=tmp_path,
                            env=_environment(), timeout=120, check=False)
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == (b"keel-emit: error: Invalid value for '-o' / '--output': the "
                             b"private key is written to a file (mode 0600), not to standard "
                             b"output\n")
    assert list(tmp_path.iterdir()) == []


def test_a_command_group_without_its_command_prints_its_help() -> None:
    """``keel-emit tsa`` was a usage error holding the whole help on one line."""
    result = subprocess.run([*EMIT, "tsa"], capture_output=True, env=_environment(),
                            timeout=120, check=False)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.startswith(b"Usage: keel-emit tsa [OPTIONS] [COMMAND]")
    assert b"serve" in result.stdout
