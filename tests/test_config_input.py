"""Trust and configuration files (--trust-root, $KEEL_VERIFY_TRUST_ROOT, --tsa-roots,
--tsa-certs, --policy and the files a policy names, --files-from) are read in bounded
time and memory: a FIFO with no writer and a character device are refused in one line
(exit 2), a pipe with a writer reads as a file does, and every such file is named in an
error line as the verifier names any file (bytes that are not UTF-8 as ``\\xNN``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from keel_verify.errors import TrustConfigError
from keel_verify.inputs import MAX_FILE_LIST_BYTES, file_list_text
from keel_verify.load import config_files
from keel_verify.load.config_files import ConfigFileError, read_config_file
from keel_verify.trust.files import MAX_TRUST_FILE_BYTES, read_bounded

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_V3 = ROOT / "sample" / "voice_session_v3.json"
TRUST_ROOT = ROOT / "sample" / "trust-root.json"
WAIT = 0.3  # the FIFO bound the CLI cases run with (the shipped one is 10 s)
# The CLI with a lowered FIFO bound: a refusal takes WAIT seconds, not ten.
LOWERED_WAIT = ("import keel_verify.load.config_files as files; "
                f"files.FIFO_WRITER_WAIT_SECONDS = {WAIT}; "
                "from keel_verify.cli import main; main()")
TRUST_OPTIONS = {  # option -> how the error line names such a file
    "--trust-root": "trust root",
    "--tsa-roots": "TSA roots file",
    "--tsa-certs": "TSA helper certificates file",
    "--policy": "policy",
}
NOT_UTF8_NAME = b"tr\xff.json"


def keel(args: Sequence[str | bytes | Path], *, trust_root_env: str | bytes | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """keel-verify (with the lowered FIFO bound) in a child process; a hang fails the test
    by its timeout instead of stopping the suite."""
    env = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    env_bytes = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    if trust_root_env is not None:
        env_bytes[b"KEEL_VERIFY_TRUST_ROOT"] = os.fsencode(trust_root_env)
    env_bytes[b"PYTHONPATH"] = os.fsencode(ROOT)
    return subprocess.run([sys.executable, "-c", LOWERED_WAIT, *args], capture_output=True,
                          env=env_bytes, cwd=cwd, timeout=60, check=False)


def error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one line on stderr of a run that ended with exit 2 and no output."""
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout == b""
    text = result.stderr.decode("utf-8")
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "f.json"
    os.mkfifo(path)
    return path


def write_later(path: Path, data: bytes, delay: float = 0.1) -> threading.Thread:
    """A writer that opens the FIFO at ``path`` after ``delay`` s (non-blocking: the
    reader is already there), writes ``data`` and closes it."""
    def writer() -> None:
        time.sleep(delay)
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.set_blocking(descriptor, True)
            os.write(descriptor, data)
        finally:
            os.close(descriptor)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


# -- the reader ------------------------------------------------------------------------


def test_the_shipped_fifo_bound_is_ten_seconds() -> None:
    assert config_files.FIFO_WRITER_WAIT_SECONDS == 10.0


def test_a_fifo_with_no_writer_is_refused_after_the_bound(fifo: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigFileError) as caught:
        read_config_file(fifo, 100, wait_seconds=0.2)
    elapsed = time.monotonic() - started
    assert str(caught.value) == "a FIFO with no writer or no data after 0.2 s"
    assert 0.15 <= elapsed < 5


def test_a_fifo_that_gets_a_writer_within_the_bound_is_read(fifo: Path) -> None:
    thread = write_later(fifo, b'{"a": 1}')
    assert read_config_file(fifo, 100, wait_seconds=5) == b'{"a": 1}'
    thread.join(5)


def test_a_fifo_whose_writer_closes_without_writing_is_empty(fifo: Path) -> None:
    thread = write_later(fifo, b"")
    assert read_config_file(fifo, 100, wait_seconds=5) == b""
    thread.join(5)


def test_a_pipe_is_read_up_to_one_byte_more_than_the_bound() -> None:
    reader, writer = os.pipe()
    os.write(writer, b"x" * 5000)
    os.close(writer)
    try:
        assert read_config_file(f"/dev/fd/{reader}", 1000, wait_seconds=1) == b"x" * 1001
    finally:
        os.close(reader)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_character_device_is_refused_without_reading(device: str) -> None:
    with pytest.raises(ConfigFileError, match=r"^a character device, not a regular file or a pipe$"):
        read_config_file(device, MAX_TRUST_FILE_BYTES)


def test_a_regular_file_is_read_up_to_one_byte_more_than_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"y" * 3000)
    assert read_config_file(path, 3000) == b"y" * 3000
    assert read_config_file(path, 1000) == b"y" * 1001


def test_missing_and_directory_paths_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"^no such file$"):
        read_config_file(tmp_path / "absent.json", 10)
    with pytest.raises(ConfigFileError, match=r"^is a directory, not a file$"):
        read_config_file(tmp_path, 10)


def test_trust_files_name_a_non_utf8_path_with_escapes(tmp_path: Path) -> None:
    path = os.fsdecode(os.path.join(os.fsencode(tmp_path), NOT_UTF8_NAME))
    with pytest.raises(TrustConfigError) as caught:
        read_bounded(path, "trust root")
    assert str(caught.value) == f"trust root {tmp_path}/tr\\xff.json: no such file"


# -- --files-from ---------------------------------------------------------------------


def test_a_file_list_from_a_fifo_with_no_writer_is_refused(
        fifo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_files, "FIFO_WRITER_WAIT_SECONDS", 0.2)
    with pytest.raises(ConfigFileError, match=r"^a FIFO with no writer or no data after 0\.2 s$"):
        file_list_text(str(fifo))


def test_a_file_list_from_a_device_is_refused() -> None:
    with pytest.raises(ConfigFileError, match=r"^a character device, not a regular file or a pipe$"):
        file_list_text("/dev/zero")


def test_a_file_list_is_read_with_its_line_ends_and_name_bytes(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"a.json\r\nb\xff.json\rc.json\n")
    assert file_list_text(str(listing)) == "a.json\nb\udcff.json\nc.json\n"
    assert MAX_FILE_LIST_BYTES == 64 * 1024 * 1024


def test_a_file_list_from_a_pipe_with_a_writer_is_read(fifo: Path) -> None:
    thread = write_later(fifo, b"one.json\ntwo.json\n")
    assert file_list_text(str(fifo)) == "one.json\ntwo.json\n"
    thread.join(5)


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "missing, not UTF-8"])
def test_a_file_list_that_cannot_be_read_is_one_line_exit_2(kind: str, fifo: Path,
                                                             tmp_path: Path) -> None:
    """--files-from FILE is read as trust files are (it was open(): a FIFO with no
    writer waited for ever, /dev/zero was read without end)."""
    import socket

    shown = {"fifo": str(fifo), "device": "/dev/zero"}
    expected = {"fifo": f"a FIFO with no writer or no data after {WAIT:g} s",
                "device": "a character device, not a regular file or a pipe",
                "socket": "a socket, not a regular file or a pipe",
                "missing, not UTF-8": "no such file"}[kind]
    if kind == "socket":
        shown[kind] = str(tmp_path / "list.sock")
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(shown[kind])
            result = keel(["--files-from", shown[kind], SAMPLE_V3])
    elif kind == "missing, not UTF-8":
        result = keel([b"--files-from", os.fsencode(tmp_path) + b"/list\xff.txt",
                       os.fsencode(SAMPLE_V3)])
        shown[kind] = f"{tmp_path}/list\\xff.txt"
    else:
        result = keel(["--files-from", shown[kind], SAMPLE_V3])
    assert error_line(result) == f"keel-verify: error: --files-from {shown[kind]}: {expected}\n"


def test_a_file_list_on_standard_input_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """--files-from - takes at most MAX_FILE_LIST_BYTES, as a listed file does (it was read
    line by line without a bound)."""
    import io
    from unittest import mock

    from keel_verify import gate
    from keel_verify.trust.sources import TrustSpec

    from_stdin = gate.GateOptions(files=(), spec=TrustSpec((), False, None, (), False),
                                  files_from="-")
    monkeypatch.setattr(gate, "MAX_FILE_LIST_BYTES", 16)
    listing = io.TextIOWrapper(io.BytesIO(b"a.json\nb.json\nc.json\n"))
    with mock.patch.object(sys, "stdin", listing), pytest.raises(gate.GateUsageError) as refused:
        gate._file_list(from_stdin)
    assert str(refused.value) == "--files-from -: larger than 16 bytes"
    listing = io.TextIOWrapper(io.BytesIO(b"a.json\r\nb\xff.json\n"))
    with mock.patch.object(sys, "stdin", listing):
        assert gate._file_list(from_stdin) == ["a.json", "b\udcff.json"]


# -- the command line -------------------------------------------------------------------


@pytest.mark.parametrize("option", sorted(TRUST_OPTIONS))
def test_a_fifo_with_no_writer_as_trust_input_is_one_line_exit_2(option: str, fifo: Path) -> None:
    result = keel([option, fifo, SAMPLE_V3])  # a hang fails by the run's timeout
    assert error_line(result) == (
        f"keel-verify: error: {TRUST_OPTIONS[option]} {fifo}: "
        f"a FIFO with no writer or no data after {WAIT:g} s\n")


def test_a_fifo_with_no_writer_as_the_environment_trust_root(fifo: Path) -> None:
    result = keel([SAMPLE_V3], trust_root_env=str(fifo))
    assert error_line(result) == (
        f"keel-verify: error: trust root {fifo}: a FIFO with no writer or no data after {WAIT:g} s\n")


def test_a_fifo_named_by_a_policy_is_refused(fifo: Path, tmp_path: Path) -> None:
    policy = tmp_path / "gate.json"
    policy.write_text(json.dumps({"policy_version": 1, "trust": {"trust_root": fifo.name}}),
                      encoding="utf-8")
    assert error_line(keel(["--policy", policy, SAMPLE_V3])) == (
        f"keel-verify: error: trust root {fifo}: a FIFO with no writer or no data after {WAIT:g} s\n")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("option", sorted(TRUST_OPTIONS))
def test_a_character_device_as_trust_input_is_one_line_exit_2(option: str, device: str) -> None:
    assert error_line(keel([option, device, SAMPLE_V3])) == (
        f"keel-verify: error: {TRUST_OPTIONS[option]} {device}: "
        "a character device, not a regular file or a pipe\n")


def pem_of_sample_tsa_root(tmp_path: Path) -> Path:
    document = json.loads(TRUST_ROOT.read_text(encoding="utf-8"))
    pem = tmp_path / "tsa-root.pem"
    pem.write_text(document["tsa_roots"][0], encoding="ascii")
    return pem


@pytest.fixture
def writer_pipes(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A trust root, a TSA root PEM and a policy, each to be read through a pipe."""
    policy = tmp_path / "gate.json"
    policy.write_text(json.dumps({"policy_version": 1, "require_anchored_witness": True}),
                      encoding="utf-8")
    yield {"trust-root": TRUST_ROOT, "pem": pem_of_sample_tsa_root(tmp_path), "policy": policy}


def test_pipes_with_a_writer_read_as_files_do(writer_pipes: dict[str, Path]) -> None:
    """Process substitution for every kind of trust input: verified, as with the files."""
    paths = writer_pipes
    script = (f'"{sys.executable}" -c "$0" --trust-root <(cat "{paths["trust-root"]}") '
              f'--tsa-roots <(cat "{paths["pem"]}") --tsa-certs <(cat "{paths["pem"]}") '
              f'--policy <(cat "{paths["policy"]}") "{SAMPLE_V3}"')
    env = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    result = subprocess.run(["bash", "-c", script, LOWERED_WAIT], capture_output=True,
                            env={**env, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"VERIFIED"), result.stdout[:200]


def test_a_pipe_whose_writer_gives_nothing_within_the_bound_is_refused() -> None:
    """Process substitution whose command writes nothing for longer than the bound."""
    script = f'"{sys.executable}" -c "$0" --trust-root <(sleep 5 2>/dev/null) "{SAMPLE_V3}"'
    env = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", script, LOWERED_WAIT], capture_output=True,
                            env={**env, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    assert time.monotonic() - started < 4  # not the writer: it gives nothing for 5 s
    line = error_line(result)
    assert line.startswith("keel-verify: error: trust root /dev/fd/")
    assert line.endswith(f": a FIFO with no writer or no data after {WAIT:g} s\n")


def test_a_slow_writer_within_the_bound_is_waited_for() -> None:
    """A pipe whose writer starts its output later (but within the bound) is read."""
    script = (f'KEEL_VERIFY_TRUST_ROOT=<(sleep 0.1; cat "{TRUST_ROOT}") '
              f'"{sys.executable}" -m keel_verify "{SAMPLE_V3}"')
    env = {k: v for k, v in os.environ.items() if k != "KEEL_VERIFY_TRUST_ROOT"}
    result = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"VERIFIED")


# -- file names that are not UTF-8 ------------------------------------------------------


@pytest.mark.parametrize("option", sorted(TRUST_OPTIONS))
def test_a_missing_trust_file_with_a_non_utf8_name(option: str, tmp_path: Path) -> None:
    result = keel([option, NOT_UTF8_NAME, SAMPLE_V3], cwd=tmp_path)
    assert error_line(result) == (
        f"keel-verify: error: {TRUST_OPTIONS[option]} tr\\xff.json: no such file\n")


def test_a_missing_environment_trust_root_with_a_non_utf8_name(tmp_path: Path) -> None:
    result = keel([SAMPLE_V3], trust_root_env=NOT_UTF8_NAME, cwd=tmp_path)
    assert error_line(result) == "keel-verify: error: trust root tr\\xff.json: no such file\n"


@pytest.mark.parametrize(("option", "content", "why"), [
    ("--trust-root", b"{", "not valid JSON"),
    ("--tsa-roots", b"hello\n", "contains no PEM certificate"),
    ("--tsa-certs", b"\xff", "not a PEM text file"),
    ("--policy", b"[]", "at /: [] is not of type 'object'"),
])
def test_an_invalid_trust_file_with_a_non_utf8_name(
        option: str, content: bytes, why: str, tmp_path: Path) -> None:
    (Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), NOT_UTF8_NAME)))).write_bytes(content)
    line = error_line(keel([option, NOT_UTF8_NAME, SAMPLE_V3], cwd=tmp_path))
    assert line.startswith(f"keel-verify: error: {TRUST_OPTIONS[option]} tr\\xff.json: {why}")
    assert "\\udc" not in line


def test_a_conflict_names_a_non_utf8_trust_root_with_escapes(tmp_path: Path) -> None:
    Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), NOT_UTF8_NAME))).write_bytes(
        TRUST_ROOT.read_bytes())
    line = error_line(keel(["--self-attested", "--trust-root", NOT_UTF8_NAME, SAMPLE_V3],
                           cwd=tmp_path))
    assert line == ("keel-verify: error: --self-attested conflicts with the trusted issuer keys "
                    "of --trust-root tr\\xff.json: accept the artifact's own key or trust these "
                    "keys, not both\n")


def test_a_key_source_names_a_non_utf8_trust_root_with_escapes(tmp_path: Path) -> None:
    Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), NOT_UTF8_NAME))).write_bytes(
        TRUST_ROOT.read_bytes())
    result = keel(["--trust-root", NOT_UTF8_NAME, SAMPLE_V3], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert b"trust root tr\\xff.json, issuer_keys[0]" in result.stdout


def test_a_policy_with_a_non_utf8_name_is_reported_with_escapes(tmp_path: Path) -> None:
    Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), NOT_UTF8_NAME))).write_text(
        json.dumps({"policy_version": 1, "trust": {"trust_root": str(TRUST_ROOT)}}),
        encoding="utf-8")
    text = keel(["--policy", NOT_UTF8_NAME, SAMPLE_V3], cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert b"  policy      tr\\xff.json: met\n" in text.stdout
    as_json = keel(["--json", "--policy", NOT_UTF8_NAME, SAMPLE_V3], cwd=tmp_path)
    policy = json.loads(as_json.stdout.decode("utf-8"))["policy"]
    assert (policy["name"], policy["source"]) == ("tr\\xff.json", "tr\\xff.json")
