"""``keel-verify`` on unusual machines, file systems and terminals: every case ends in a
report (or one line on stderr) and the exit code the verdicts call for, never a traceback."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keel_verify import TrustPolicy, Verdict
from keel_verify.console import ForgivingStream
from keel_verify.inputs import Input, expand_inputs, walk_directory
from keel_verify.report.terminal import render, wrapped
from keel_verify.runner import verify_all
from keel_verify.schemas import REPORT_SCHEMA, load_schema
from tests.helpers import PUBLIC_V3, public_v3, to_a_pipe_nobody_reads, to_bytes

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
SAMPLE_V3 = SAMPLE / "voice_session_v3.json"
SAMPLE_V1 = SAMPLE / "voice_session_v1.json"
TRUST_ROOT = SAMPLE / "trust-root.json"


def signal_number(name: str) -> int:
    import signal

    return int(signal.Signals[name])


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KEEL_VERIFY_TRUST_ROOT", "PYTHONIOENCODING", "LC_ALL", "LANG")}
    env.update(extra)
    return env


def run(args: Sequence[str | bytes | Path], **extra: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI with raw bytes out (an encoding is part of what is tested)."""
    return subprocess.run(
        [sys.executable, "-m", "keel_verify", *args], capture_output=True,
        env=environment(**extra), timeout=120, check=False,
    )


def shell(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-c", script], capture_output=True, env=environment(),
                          timeout=120, check=False, cwd=ROOT)


def no_traceback(result: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in result.stdout + result.stderr, result.stderr.decode(errors="replace")


def validated(stdout: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout.decode("utf-8"))  # strict UTF-8
    jsonschema.validate(document, load_schema(REPORT_SCHEMA))
    return document


KEEL = [sys.executable, "-m", "keel_verify"]
KEEL_SH = f"{sys.executable} -m keel_verify"


# -- item 1: file names that are not UTF-8, odd output encodings ---------------------------


@pytest.fixture
def latin1_named(tmp_path: Path) -> bytes:
    name = os.fsencode(tmp_path) + b"/caf\xe9.json"
    with open(name, "wb") as handle:
        handle.write(PUBLIC_V3.read_bytes())
    return name


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8:strict", "latin-1", "ascii"])
def test_a_non_utf8_file_name_under_any_output_encoding(latin1_named: bytes, encoding: str) -> None:
    result = run(["--self-attested", latin1_named], PYTHONIOENCODING=encoding)
    no_traceback(result)
    assert result.returncode == 0
    assert result.stdout.startswith(b"VERIFIED")
    assert b"caf\\xe9.json" in result.stdout


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_json_with_a_non_utf8_file_name_is_valid_utf8(latin1_named: bytes, locale: str) -> None:
    result = run(["--json", "--self-attested", latin1_named], LC_ALL=locale)
    no_traceback(result)
    assert result.returncode == 0
    assert b"\xe9" not in result.stdout  # no raw byte of the file name
    assert validated(result.stdout)["files"][0]["path"].endswith("caf\\xe9.json")


@pytest.fixture
def snowman(tmp_path: Path) -> Path:
    """An artifact whose text (session id) and name are outside Latin-1."""
    document = public_v3()
    document["session_metadata"]["session_id"] = "sess_\u2603_\u4f1a\u8bdd"
    path = tmp_path / "\u4f1a\u8bdd.json"
    path.write_bytes(to_bytes(document))
    return path


@pytest.mark.parametrize("encoding", ["latin-1", "ascii", "utf-8"])
def test_non_latin1_text_under_any_output_encoding(snowman: Path, encoding: str) -> None:
    result = run([snowman], PYTHONIOENCODING=encoding)
    no_traceback(result)
    assert result.returncode == 1  # the session id no longer matches: FAILED, still shown
    text = result.stdout.decode(encoding)
    if encoding == "utf-8":
        assert "sess_\u2603_\u4f1a\u8bdd" in text
    else:
        assert "sess_\\u2603_\\u4f1a\\u8bdd" in text
    as_json = run(["--json", snowman], PYTHONIOENCODING=encoding)
    no_traceback(as_json)
    document = validated(as_json.stdout)
    assert document["files"][0]["session_id"] == "sess_\u2603_\u4f1a\u8bdd"
    assert document["exit_code"] == as_json.returncode == 1


# -- item 1 and 2: closed stdout, a reader that goes away ---------------------------------


@pytest.mark.parametrize(("flags", "code"), [(f"--trust-root {TRUST_ROOT}", 0), ("", 3)])
def test_closed_stdout_keeps_the_verdicts_exit_code(flags: str, code: int) -> None:
    result = shell(f"{KEEL_SH} {flags} {SAMPLE_V3} >&-")
    no_traceback(result)
    assert result.returncode == code
    assert result.stderr == b"keel-verify: note: standard output is closed; no report written\n"


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("closed", ["2>&-", "2>/dev/full"])
def test_closed_or_full_stderr_keeps_the_error_exit_code_and_the_report(
        jobs: str, closed: str) -> None:
    """An unreadable input is an ERROR (exit 2) whose line also goes to stderr: with
    stderr closed (Python's sys.stderr is None) or failing, that line goes nowhere, and
    stdout still carries every file's row (it was AttributeError, exit 1, rows lost)."""
    result = shell(f"{KEEL_SH} --jobs {jobs} --trust-root {TRUST_ROOT} {SAMPLE_V3} "
                   f"/nonexistent.json {closed}")
    assert result.returncode == 2 and result.stderr == b""
    rows = result.stdout.decode().splitlines()
    assert rows[0] == f"VERIFIED  {SAMPLE_V3}" and "ERROR  /nonexistent.json" in rows
    assert [row.split()[:2] for row in rows[-3:-1]] == [
        [str(SAMPLE_V3), "VERIFIED"], ["/nonexistent.json", "ERROR"]]
    assert rows[-1] == "2 files: 1 verified, 1 error"
    alone = shell(f"{KEEL_SH} --trust-root {TRUST_ROOT} /nonexistent.json {closed}")
    assert alone.returncode == 2 and alone.stdout == b"ERROR  /nonexistent.json\n  error: no such file\n"
    usage = shell(f"{KEEL_SH} {closed}")
    assert usage.returncode == 2 and usage.stdout == b""


@pytest.mark.parametrize(("args", "line"), [
    (f"--trust-root {TRUST_ROOT} -", "keel-verify: error: -: standard input is closed"),
    (f"--trust-root {TRUST_ROOT} --files-from - {SAMPLE_V3}",
     "keel-verify: error: --files-from -: standard input is closed"),
])
def test_closed_stdin_is_one_line_with_exit_2(args: str, line: str) -> None:
    result = shell(f"{KEEL_SH} {args} <&-")
    no_traceback(result)
    assert result.returncode == 2 and result.stderr.decode().splitlines() == [line]


def test_a_file_list_from_a_stdin_that_cannot_be_read_is_one_line() -> None:
    # Standard input opened for appending: it cannot be read (EBADF).
    result = shell(f"{KEEL_SH} --trust-root {TRUST_ROOT} --files-from - {SAMPLE_V3} 0>>/dev/null")
    no_traceback(result)
    assert result.returncode == 2 and result.stderr == (
        b"keel-verify: error: --files-from -: cannot read standard input: Bad file descriptor\n")


def test_a_path_holding_a_nul_byte_is_an_error_report(tmp_path: Path) -> None:
    """No file name holds a NUL byte; a --files-from list may (it was ValueError, exit 1)."""
    listed = tmp_path / "list"
    listed.write_bytes(b"a\x00b.json\n" + bytes(SAMPLE_V3) + b"\n")
    result = run(["--trust-root", TRUST_ROOT, "--files-from", listed])
    no_traceback(result)
    assert result.returncode == 2
    assert result.stderr == b"keel-verify: error: a\\x00b.json: a path holding a NUL byte names no file\n"
    assert b"1 verified, 1 error" in result.stdout


def test_a_socket_is_named_as_one(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "listening.json"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        result = run([path])
    assert result.returncode == 2
    assert result.stderr == (f"keel-verify: error: {path}: a socket, not a regular file "
                             "(pipe it to standard input as '-')\n").encode()


def test_a_fault_of_ours_is_one_line_with_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The last guard: an exception no input should raise is an internal error, exit 2
    (not Python's traceback and exit 1, which would read as FAILED)."""
    from keel_verify import cli

    def broken(*_: Any) -> int:
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(cli, "run_gate", broken)
    with pytest.raises(SystemExit) as ended:
        cli.main(["--trust-root", str(TRUST_ROOT), str(SAMPLE_V3)])
    assert ended.value.code == 2
    assert capsys.readouterr().err == ("keel-verify: internal error: RuntimeError: a bug\\nover "
                                       "two lines (not a verdict on the input; please report it)\n")


@pytest.mark.parametrize("as_json", [False, True])
def test_a_reader_that_goes_away_keeps_the_verdicts_exit_code(as_json: bool) -> None:
    """The pipe's reading end is closed before the run starts, so the first write meets
    a broken pipe (what ``| head -1`` does to a longer report)."""
    args = [*KEEL, "--trust-root", str(TRUST_ROOT), str(SAMPLE_V3), str(SAMPLE_V1)]
    if as_json:
        args.insert(3, "--json")
    result = to_a_pipe_nobody_reads(args, environment())
    stderr = result.stderr
    assert result.returncode == 0
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("option", ["--help", "--version", "--list-checks"])
def test_clicks_own_output_keeps_exit_0_when_the_reader_goes_away_or_the_disk_is_full(
        option: str) -> None:
    """click writes --help and --version itself and ended with exit 1 (FAILED here) on a
    broken pipe, or a traceback on a full disk: they go through a forgiving stream."""
    gone = to_a_pipe_nobody_reads([*KEEL, option], environment())
    stderr = gone.stderr
    assert gone.returncode == 0 and stderr == b"", stderr
    full = shell(f"{KEEL_SH} {option} >/dev/full")
    assert full.returncode == 0 and full.stderr == (
        b"keel-verify: note: cannot write to standard output (No space left on device); "
        b"nothing more is written there\n")


def test_head_keeps_the_verdicts_exit_code() -> None:
    result = shell(f"{KEEL_SH} --trust-root {TRUST_ROOT} {SAMPLE_V3} | head -1; "
                   "echo \"status ${PIPESTATUS[0]}\"")
    no_traceback(result)
    assert result.stdout.splitlines() == [
        f"VERIFIED  {SAMPLE_V3}".encode(), b"status 0"]


FULL_NOTE = (b"keel-verify: note: cannot write to standard output (No space left on device); "
             b"nothing more is written there\n")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is absent on this system")
@pytest.mark.parametrize(("flags", "code"), [(f"--trust-root {TRUST_ROOT}", 0), ("", 3),
                                             (f"--json --trust-root {TRUST_ROOT}", 0),
                                             ("--format sarif", 3)])
def test_a_full_stdout_keeps_the_verdicts_exit_code(flags: str, code: int) -> None:
    """A write to standard output that fails (ENOSPC here) is not an --output failure:
    one note names standard output and the exit code is the verdict's."""
    result = shell(f"{KEEL_SH} {flags} {SAMPLE_V3} > /dev/full")
    no_traceback(result)
    assert result.returncode == code
    assert result.stderr == FULL_NOTE


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is absent on this system")
def test_a_full_output_file_is_still_an_output_error() -> None:
    result = shell(f"{KEEL_SH} --output json=/dev/full {SAMPLE_V3} > /dev/null")
    no_traceback(result)
    assert result.returncode == 2  # it said "cannot write an output file", not which
    assert result.stderr == (b"keel-verify: error: --output json=/dev/full: cannot write: "
                             b"No space left on device\n")


class FailingStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_an_io_error_on_stdout_is_noted_once_and_the_run_goes_on() -> None:
    notes = io.StringIO()
    stream = ForgivingStream(FailingStream(), notes)
    assert stream.write("VERIFIED  a.json\n") == len("VERIFIED  a.json\n")
    stream.write("more\n")
    stream.flush()
    assert notes.getvalue() == ("keel-verify: note: cannot write to standard output "
                                f"({os.strerror(errno.EIO)}); nothing more is written there\n")


# -- item 1: trust input read once, in the parent -----------------------------------------


def test_a_trust_root_from_a_pipe_serves_every_worker() -> None:
    result = shell(f"{KEEL_SH} --json -j 2 --trust-root <(cat {TRUST_ROOT}) {SAMPLE_V3} {SAMPLE_V1}")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    assert [f["verdict"] for f in document["files"]] == ["VERIFIED", "VERIFIED"]
    trust = document["trust"]
    assert trust["trust_root_file"].startswith("/dev/fd/")
    # the report names exactly what was applied, not only where it came from
    with_file = validated(run(["--json", "--trust-root", TRUST_ROOT, SAMPLE_V3]).stdout)["trust"]
    def without_source(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in key.items() if k != "source"} for key in keys]

    assert without_source(trust["issuer_keys"]) == without_source(with_file["issuer_keys"])
    assert trust["tsa_roots"] == with_file["tsa_roots"]
    assert trust["tsa_root_sha256"] == with_file["tsa_root_sha256"]
    key = trust["issuer_keys"][0]
    assert (key["not_before"], key["not_after"], key["status"]) == (
        "2026-01-01T00:00:00Z", "2031-01-01T00:00:00Z", "active")
    assert trust["tsa_root_sha256"][0].startswith("sha256:")


def test_workers_receive_the_parsed_policy_not_a_path(tmp_path: Path) -> None:
    from keel_verify.trust import sources

    copy = tmp_path / "trust-root.json"
    copy.write_bytes(TRUST_ROOT.read_bytes())
    policy = sources.build_policy(sources.TrustSpec((), False, str(copy), (), False))
    copy.unlink()  # a worker that read the trust root again would now fail
    inputs = [Input(str(SAMPLE_V3)), Input(str(SAMPLE_V1))]
    reports = list(verify_all(inputs, policy, jobs=2))
    assert [r.verdict for r in reports] == [Verdict.VERIFIED, Verdict.VERIFIED]


# -- item 1: no usable /dev/shm ---------------------------------------------------------


def test_without_process_pools_the_run_falls_back_to_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a machine without a usable /dev/shm does: creating a semaphore fails."""
    import multiprocessing.synchronize  # noqa: F401  (imported before its semaphores break)

    def no_semaphores(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr("_multiprocessing.SemLock", no_semaphores)
    notes: list[str] = []
    inputs = [Input(str(SAMPLE_V3)), Input(str(SAMPLE_V1)), Input("missing.json", "gone")]
    reports = list(verify_all(inputs, TrustPolicy.self_attested_only(), jobs=2, warn=notes.append))
    assert [r.verdict for r in reports] == [Verdict.VERIFIED, Verdict.VERIFIED, Verdict.ERROR]
    assert notes == ["keel-verify: note: worker processes unavailable (Function not implemented); "
                     "verifying in one process"]


def test_a_broken_pool_finishes_the_rest_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from keel_verify import runner

    class Pool:
        """Verifies the first chunk it is given, then breaks as a killed worker would."""

        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            self.submitted = 0

        def submit(self, _function: Any, paths: list[str]) -> Future[list[Any]]:
            from keel_verify.verifier import verify_path

            future: Future[list[Any]] = Future()
            if self.submitted == 0:
                future.set_result([verify_path(paths[0], TrustPolicy.self_attested_only())])
            else:
                future.set_exception(BrokenProcessPool("a worker died"))
            self.submitted += 1
            return future

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            pass

    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", Pool)
    notes: list[str] = []
    inputs = [Input(str(SAMPLE_V3)), Input(str(SAMPLE_V1)), Input(str(PUBLIC_V3))]
    reports = list(runner.verify_all(inputs, TrustPolicy.self_attested_only(), 2, notes.append))
    assert [r.path for r in reports] == [str(SAMPLE_V3), str(SAMPLE_V1), str(PUBLIC_V3)]
    assert all(r.verdict is Verdict.VERIFIED for r in reports)
    assert len(notes) == 1 and "verifying the rest in one process" in notes[0]


def _recording_stops(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records each ``runner._stop`` (True) and each orderly ``shutdown(wait=True)`` (False)."""
    from concurrent.futures import ProcessPoolExecutor

    from keel_verify import runner

    seen: list[bool] = []
    stop, shutdown = runner._stop, ProcessPoolExecutor.shutdown

    def recording_stop(pool: Any) -> None:
        seen.append(True)
        stop(pool)

    def recording_shutdown(pool: ProcessPoolExecutor, wait: bool = True, **options: Any) -> None:
        if wait:
            seen.append(False)
        shutdown(pool, wait, **options)

    monkeypatch.setattr(runner, "_stop", recording_stop)
    monkeypatch.setattr(ProcessPoolExecutor, "shutdown", recording_shutdown)
    return seen


def test_a_finished_batch_shuts_its_pool_down_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI failure of stop 22: every batch of worker processes ended as if cut short
    (its generator closed after its last result), and now and then Python's exit printed
    an ``OSError: [Errno 9]`` traceback from the pool's wake-up pipe after our last line."""
    import multiprocessing

    seen = _recording_stops(monkeypatch)
    inputs = [Input(str(SAMPLE_V3)), Input("missing.json", "gone"), Input(str(SAMPLE_V1)),
              Input(str(PUBLIC_V3))]
    reports = list(verify_all(inputs, TrustPolicy.self_attested_only(), 2, lambda _line: None))
    assert [r.verdict for r in reports] == [Verdict.VERIFIED, Verdict.ERROR, Verdict.VERIFIED,
                                            Verdict.VERIFIED]
    assert seen == [False]
    assert multiprocessing.active_children() == []


def test_a_batch_ended_early_stops_its_pool_and_waits_for_its_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing
    import threading

    seen = _recording_stops(monkeypatch)
    inputs = [Input(str(SAMPLE_V3))] * 40
    reports = verify_all(inputs, TrustPolicy.self_attested_only(), 2, lambda _line: None)
    assert next(reports).verdict is Verdict.VERIFIED
    reports.close()  # what Ctrl-C, SIGTERM or an output error does to the batch
    assert seen == [True]
    assert multiprocessing.active_children() == []
    from keel_verify import runner

    assert not runner.wedged_pool_threads()
    # No pool thread is left to race the interpreter's exit.
    assert [t for t in threading.enumerate()
            if type(t).__name__ == "_ExecutorManagerThread" and t.is_alive()] == []


def test_a_worker_leaves_the_groups_signals_to_its_parent() -> None:
    """Ctrl-C and a hangup reach the whole process group: a worker killed by one while
    sending its result left the pool's thread waiting for ever (a run that never ended).
    SIGTERM still ends a worker at once, unless the run started with it ignored."""
    script = ("import signal\nfrom keel_verify.runner import _init_worker, _as_is\n"
              "from keel_verify import TrustPolicy\n"
              "import sys\n"
              "if sys.argv[1] == 'ignored': signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "import os; _init_worker(TrustPolicy(), _as_is, os.getppid())\n"
              "print([signal.getsignal(n).name for n in "
              "(signal.SIGINT, signal.SIGHUP, signal.SIGTERM)])")
    for start, term in (("default", "SIG_DFL"), ("ignored", "SIG_IGN")):
        result = subprocess.run([sys.executable, "-c", script, start], capture_output=True,
                                text=True, env=environment(PYTHONPATH=str(ROOT)), timeout=120,
                                check=True)
        assert result.stdout == f"['SIG_IGN', 'SIG_IGN', '{term}']\n"


def test_a_wedged_pool_thread_does_not_keep_the_command_from_ending() -> None:
    """The command ends (``os._exit``, streams flushed) even when a stopped pool's thread
    would keep the interpreter waiting for ever; its output and exit code are whole."""
    script = ("import threading\nfrom keel_verify import runner\n"
              "never = threading.Event()\n"
              "stuck = threading.Thread(target=never.wait)\n"
              "stuck.start(); runner._WEDGED.append(stuck)\n"
              "from keel_verify.cli import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", script, "--json", "--trust-root", str(TRUST_ROOT), str(SAMPLE_V3)],
        capture_output=True, env=environment(PYTHONPATH=str(ROOT)), timeout=60, check=False)
    assert (result.returncode, result.stderr) == (0, b"")
    assert validated(result.stdout)["files"][0]["verdict"] == "VERIFIED"


def test_a_worker_killed_while_sending_its_result_does_not_hang_the_run() -> None:
    """What the OOM killer or ``kill -9`` can do: a worker dies half-way through sending a
    result, holding the queue's lock. The pool's thread then waits for the rest for ever
    and the pool never reports itself broken; the run hung. The run now sees the dead
    worker, verifies the rest in this process and ends with every row."""
    script = (
        "import os, struct, sys\nfrom keel_verify import runner\n"
        "real = runner._verify_chunk_in_worker\n"
        "def dying(paths):\n"
        "    if not any(path.endswith('v1.json') for path in paths):\n"
        "        return real(paths)\n"
        "    frame = sys._getframe()\n"
        "    while frame.f_code.co_name != '_process_worker':\n"
        "        frame = frame.f_back\n"
        "    queue = frame.f_locals['result_queue']\n"
        "    queue._wlock.acquire()\n"
        "    os.write(queue._writer.fileno(), struct.pack('!i', 1 << 20) + b'cut')\n"
        "    os._exit(9)\n"
        "runner._verify_chunk_in_worker = dying\n"
        "from keel_verify.cli import main; main()")
    paths = [str(SAMPLE_V3)] * 30 + [str(SAMPLE_V1)] + [str(SAMPLE_V3)] * 30
    result = subprocess.run(
        [sys.executable, "-c", script, "-j", "2", "--format", "jsonl", "--trust-root",
         str(TRUST_ROOT), *paths], capture_output=True, env=environment(PYTHONPATH=str(ROOT)),
        timeout=60, check=False)
    assert result.stderr == (b"keel-verify: note: worker processes failed (BrokenExecutor); "
                             b"verifying the rest in one process\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["path"] for row in rows] == paths
    assert {row["verdict"] for row in rows} == {"VERIFIED"} and result.returncode == 0


def _batch_at_work() -> subprocess.Popen[bytes]:
    """A ``-j 2`` batch of 20,001 files in its own process group, its first row read. The
    paths come through ``--files-from -``: 20,001 of them on the command line could reach
    the system's argument limit on a long checkout path."""
    process = subprocess.Popen(
        [sys.executable, "-m", "keel_verify", "-j", "2", "--format", "jsonl", "--trust-root",
         str(TRUST_ROOT), "--files-from", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=environment(PYTHONPATH=str(ROOT)), start_new_session=True)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{SAMPLE_V3}\n".encode() * 20_000 + f"{SAMPLE_V1}\n".encode())
    process.stdin.close()  # the run reads the whole list before it verifies
    assert b'"verdict":"VERIFIED"' in process.stdout.readline()  # the workers are at work
    return process


def _group_empties(group: int) -> bool:
    """Whether process group ``group`` has no process left within 10 s."""
    import time

    for _ in range(100):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_workers_end_with_a_run_killed_outright() -> None:
    """SIGKILL (the OOM killer, ``kill -9``) to the run alone: its workers, which no
    signal of the group's reaches, waited for ever for work that would not come."""
    import signal

    process = _batch_at_work()
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    left = _group_empties(process.pid)
    if not left:
        os.killpg(process.pid, signal.SIGKILL)
    assert left, "a worker outlived the run"


def test_ctrl_c_to_the_process_group_ends_a_batch_in_one_line() -> None:
    """Ctrl-C reaches the parent and its workers: one line (no empty line before it, no
    "Exception ignored"), exit 130, and no worker left behind."""
    import signal

    process = _batch_at_work()
    assert process.stdout is not None and process.stderr is not None
    os.killpg(process.pid, signal.SIGINT)
    process.stdout.read()
    assert process.stderr.read() == b"keel-verify: interrupted\n"
    assert process.wait(timeout=60) == 130
    assert _group_empties(process.pid), "a worker outlived the run"


def test_stopping_a_busy_pool_ends_its_workers_and_its_thread() -> None:
    import time
    from concurrent.futures import ProcessPoolExecutor

    from keel_verify import runner

    pool = ProcessPoolExecutor(2)
    try:
        busy = [pool.submit(time.sleep, 60) for _ in range(4)]
        for _ in range(1_000):  # until the first job is handed to the workers (at most 10 s)
            if busy[0].running():
                break
            time.sleep(0.01)
        assert busy[0].running()
        internals: Any = pool  # CPython's ProcessPoolExecutor keeps these apart
        manager = internals._executor_manager_thread
        wakeup = internals._executor_manager_thread_wakeup
        processes = list(internals._processes.values())
        runner._stop(pool)
        assert manager is not None and not manager.is_alive()
        assert wakeup._closed  # the pipe the interpreter's exit would write to is closed
        assert all(not process.is_alive() for process in processes)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()


# -- item 4: directory walking ------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """exports/ with a good file, *.JSON, a linked folder holding a tampered artifact, a
    link loop, a dangling *.json link and a non-input file."""
    exports = tmp_path / "exports"
    (exports / "nested").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(SAMPLE_V3, exports / "a.json")
    shutil.copy(SAMPLE_V1, exports / "nested" / "B.JSON")
    tampered = json.loads(SAMPLE_V3.read_bytes())
    tampered["session_metadata"]["status"] = "failed"
    (outside / "tampered.json").write_bytes(to_bytes(tampered))
    (exports / "linked").symlink_to(outside, target_is_directory=True)
    (exports / "nested" / "loop").symlink_to(exports, target_is_directory=True)
    (exports / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    (exports / "notes.txt").write_text("not an input")
    return exports


def test_a_directory_walk_reports_every_input_and_follows_links(tree: Path) -> None:
    inputs = expand_inputs([str(tree)])
    assert [(os.path.relpath(i.path, tree), i.error) for i in inputs] == [
        ("a.json", None),
        ("dangling.json", "dangling symbolic link (its target does not exist)"),
        ("linked/tampered.json", None),
        ("nested/B.JSON", None),
    ]


def test_a_tampered_artifact_under_a_linked_folder_fails_the_run(tree: Path) -> None:
    result = run(["--trust-root", TRUST_ROOT, "--exclude", "dangling.json", tree])
    no_traceback(result)
    assert result.returncode == 1
    assert b"FAILED  " + os.fsencode(tree / "linked" / "tampered.json") in result.stdout
    dangling = run(["--trust-root", TRUST_ROOT, "--exclude", "linked", tree])
    assert dangling.returncode == 2
    assert (b"dangling.json: dangling symbolic link (its target does not exist)"
            in dangling.stderr)


@pytest.fixture
def unreadable_nested(tree: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``tree/nested`` refuses to be listed (as root no folder can be made unreadable)."""
    real = os.scandir
    hidden = str(tree / "nested")

    def scandir(path: Any) -> Any:
        if str(path) == hidden:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return hidden


def test_an_unreadable_folder_is_an_error(tree: Path, unreadable_nested: str) -> None:
    hidden = unreadable_nested
    errors = [(i.path, i.error) for i in walk_directory(str(tree)) if i.error]
    assert (hidden, "cannot list directory: permission denied") in errors


def test_an_unreadable_folder_is_an_error_on_the_command_line(
    tree: Path, unreadable_nested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The whole CLI runs in this process: exit code and stderr line as a user sees them.
    from keel_verify.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--jobs", "1", "--exclude", "dangling.json", "--exclude", "linked", str(tree)])
    assert done.value.code == 2
    assert "cannot list directory: permission denied" in capsys.readouterr().err


def test_exclude_lets_the_sample_folder_verify() -> None:
    plain = run(["--trust-root", TRUST_ROOT, SAMPLE])
    assert plain.returncode == 2  # trust-root.json and the scenario are not attestations
    result = run(["--trust-root", TRUST_ROOT, "--exclude", "trust-root.json",
                  "--exclude", "demo_*", SAMPLE])
    no_traceback(result)
    assert result.returncode == 0, result.stdout
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(b"VERIFIED  ")]
    assert len(verdicts) == 2


@pytest.mark.parametrize(("pattern", "left"), [
    ("*.JSON", ["a.json", "linked/tampered.json"]),
    ("nested/*", ["a.json", "linked/tampered.json"]),
    ("linked", ["a.json", "nested/B.JSON"]),
    ("*/tampered.json", ["a.json", "nested/B.JSON"]),
])
def test_exclude_globs_match_names_and_relative_paths(tree: Path, pattern: str,
                                                      left: list[str]) -> None:
    (tree / "dangling.json").unlink()
    found = [os.path.relpath(i.path, tree) for i in expand_inputs([str(tree)], [pattern])]
    assert found == left


def test_a_folder_whose_files_are_all_excluded_says_so(tree: Path, tmp_path: Path) -> None:
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    assert expand_inputs([str(tree), str(nothing)], ["*"]) == [
        Input(str(tree), "every *.json file in this directory matches --exclude"),
        Input(str(nothing), "directory holds no *.json file")]


def test_an_empty_folder_is_a_row_in_error_and_the_other_inputs_are_verified(
        tmp_path: Path) -> None:
    """It was a usage error that dropped every other row."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(["--trust-root", TRUST_ROOT, SAMPLE_V3, empty])
    no_traceback(result)
    assert result.returncode == 2
    assert result.stdout.startswith(b"VERIFIED  ")
    assert f"{empty}: directory holds no *.json file".encode() in result.stdout + result.stderr
    rows = json.loads(run(["--json", "--trust-root", TRUST_ROOT, SAMPLE_V3, empty]).stdout)
    assert [(f["verdict"], f["error"]) for f in rows["files"]] == [
        ("VERIFIED", None), ("ERROR", "directory holds no *.json file")]


def test_an_empty_folder_whose_name_is_not_utf8_is_shown_and_reported(tmp_path: Path) -> None:
    """Its row kept the raw name: the HTML reports failed with "internal error:
    UnicodeEncodeError", and the text showed ``\\udcff`` for the byte."""
    folder = os.fsencode(tmp_path) + b"/d\xff"
    os.mkdir(folder)
    pages = tmp_path / "pages"
    result = run([b"--self-attested", b"--report-dir", os.fsencode(pages), folder,
                  os.fsencode(SAMPLE_V3)])
    no_traceback(result)
    assert result.returncode == 2
    assert f"{tmp_path}/d\\xff: directory holds no *.json file".encode() in result.stderr
    assert sorted(path.name for path in pages.iterdir()) == [
        "d_xff.html", "index.html", "voice_session_v3.html"]


# -- item 5: words -------------------------------------------------------------------------


def test_empty_input_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    result = run([empty])
    assert result.returncode == 2
    assert result.stderr == f"keel-verify: error: {empty}: empty input\n".encode()


def test_no_arguments_prints_a_usage_line() -> None:
    result = run([])
    assert result.returncode == 2
    assert result.stderr == (b"keel-verify: error: no FILE given "
                             b"(usage: keel-verify [OPTIONS] FILE...; try --help)\n")


def test_strict_names_the_warnings_it_promoted() -> None:
    result = run(["--strict", "--self-attested", PUBLIC_V3])
    assert result.returncode == 1
    assert result.stdout.startswith(b"FAILED (strict: 3 warnings)  ")
    document = validated(run(["--json", "--strict", "--self-attested", PUBLIC_V3]).stdout)
    assert document["files"][0]["promoted_warnings"] == [
        "permit_linkage", "timestamp_witness", "time_consistency"]
    lenient = validated(run(["--json", "--self-attested", PUBLIC_V3]).stdout)
    assert lenient["files"][0]["promoted_warnings"] == []


def test_reasons_wrap_under_their_column_in_a_terminal(tmp_path: Path) -> None:
    line = ("  [FAIL] chain_integrity  chain entry 3 content_hash does not match its "
            "content; every later entry is unlinked as a result of it at /chain/3")
    folded = wrapped(line, 60)
    assert all(len(part) <= 60 for part in folded) and len(folded) > 1
    column = line.index("chain entry")
    assert all(part.startswith(" " * column) and part[column] != " " for part in folded[1:])
    assert " ".join(" ".join(folded).split()) == " ".join(line.split())


@pytest.mark.parametrize("outcome", ["[PASS]", "[FAIL]"])
def test_a_column_past_half_the_width_puts_the_whole_reason_below(outcome: str) -> None:
    """In a narrow terminal the name keeps its line and every reason starts on the next,
    whatever its first word (a FAIL reason's first word stayed on the name's line)."""
    line = f"  {outcome} issuer_signature           no valid signature from a trusted key"
    assert wrapped(line, 40) == [f"  {outcome} issuer_signature", "    no valid signature from a trusted",
                                 "    key"]


def test_plain_output_keeps_one_line_per_reason() -> None:
    import io

    from keel_verify import verify_path

    stream = io.StringIO()
    render([verify_path(PUBLIC_V3, TrustPolicy())], stream)
    lines = stream.getvalue().splitlines()
    assert any(len(line) > 100 for line in lines)  # not folded when not a terminal


def test_chain_entries_are_numbered_as_their_pointers() -> None:
    from keel_verify import verify_bytes

    document = json.loads(SAMPLE_V3.read_bytes())
    document["chain"][3]["content_hash"] = "sha256:" + "0" * 64
    result = verify_bytes(to_bytes(document), TrustPolicy()).check("chain_integrity")
    assert result.pointer.startswith("/chain/3")
    assert result.reason.startswith("chain entry 3 content_hash")
    first = json.loads(SAMPLE_V3.read_bytes())
    first["chain"][0]["previous_content_hash"] = "sha256:" + "1" * 64
    result = verify_bytes(to_bytes(first), TrustPolicy()).check("chain_integrity")
    assert result.reason.startswith("chain entry 0 does not link to the genesis hash")


def test_counts_are_said_in_the_right_number() -> None:
    from keel_verify import load_trust_policy, verify_path

    report = verify_path(SAMPLE_V3, load_trust_policy(trust_roots=[str(TRUST_ROOT)]))
    assert "; 1 witnessed genTime (authenticated): " in report.check("time_consistency").reason
    assert report.check("timestamp_witness").reason.startswith("1 receipt witnessed: ")
    assert "named by 1 receipt;" in report.check("rfc3161_timestamp_receipt").reason
    assert "3 child permits bound" in report.check("permit_linkage").reason
    assert all("(s)" not in check.reason and "(es)" not in check.reason
               for check in report.checks)


class _ReversedListing:
    """``os.scandir`` as a context manager listing entries in reverse name order."""

    def __init__(self, path: Any) -> None:
        with _REAL_SCANDIR(path) as entries:
            self.entries = sorted(entries, key=lambda entry: entry.name, reverse=True)

    def __enter__(self) -> list[os.DirEntry[str]]:
        return self.entries

    def __exit__(self, *exc: object) -> None:
        return None


_REAL_SCANDIR = os.scandir


@pytest.fixture
def linked_twice(tmp_path: Path) -> Path:
    """exports/ with real/x.json reached also through two links (a_link, z_link), and
    an outside folder reached only through two links (b_out, c_out)."""
    exports = tmp_path / "exports"
    (exports / "real").mkdir(parents=True)
    shutil.copy(SAMPLE_V3, exports / "real" / "x.json")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLE_V3, outside / "y.json")
    (exports / "a_link").symlink_to(exports / "real", target_is_directory=True)
    (exports / "z_link").symlink_to(exports / "real", target_is_directory=True)
    (exports / "c_out").symlink_to(outside, target_is_directory=True)
    (exports / "b_out").symlink_to(outside, target_is_directory=True)
    return exports


@pytest.mark.parametrize("listing", ["as listed", "reversed"])
def test_a_folder_reached_by_several_paths_is_named_the_same_whatever_the_listing_order(
        linked_twice: Path, listing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its path without a link when it has one, else its first link in sorted order:
    so the name, and what an --exclude on a name drops, never depend on the file system's
    listing order."""
    if listing == "reversed":
        monkeypatch.setattr(os, "scandir", _ReversedListing)
    paths = [os.path.relpath(i.path, linked_twice) for i in walk_directory(str(linked_twice))]
    assert paths == ["b_out/y.json", "real/x.json"]


def test_excluding_one_path_to_a_folder_walks_it_under_the_next(linked_twice: Path) -> None:
    """--exclude drops a path, not the files other paths lead to: those are still
    inputs, named by the next path."""
    inputs = expand_inputs([str(linked_twice)], exclude=["real", "b_out"])
    assert [os.path.relpath(i.path, linked_twice) for i in inputs] == [
        "a_link/x.json", "c_out/y.json"]


# -- --output and --report files that cannot be written ----------------------------------


def test_an_output_fifo_with_no_reader_is_refused_at_once(tmp_path: Path) -> None:
    """Opening a FIFO for writing waits for a reader: it was a wait for ever."""
    fifo = tmp_path / "out.xml"
    os.mkfifo(fifo)
    result = run(["--trust-root", TRUST_ROOT, "--output", f"junit={fifo}", SAMPLE_V3])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == f"keel-verify: error: --output junit={fifo}: a FIFO with no reader\n".encode()


def test_an_output_pipe_with_a_reader_is_written(tmp_path: Path) -> None:
    copy = tmp_path / "copy.json"
    result = shell(f"{KEEL_SH} --trust-root {TRUST_ROOT} --output json=>(cat > {copy}) "
                   f"{SAMPLE_V3} >/dev/null; status=$?; wait $!; echo $status")  # $!: the >(...) reader
    no_traceback(result)
    assert result.stdout == b"0\n"
    assert json.loads(copy.read_bytes())["files"][0]["verdict"] == "VERIFIED"


def test_an_output_that_is_a_socket_is_named_as_one(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "out.json"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        result = run(["--trust-root", TRUST_ROOT, "--output", f"json={path}", SAMPLE_V3])
    assert result.returncode == 2 and result.stderr == (
        f"keel-verify: error: --output json={path}: a socket, not a file or a pipe\n".encode())


def test_output_and_report_paths_that_are_not_utf8_are_shown_escaped(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path) + b"/missing\xff"
    shown = f"{tmp_path}/missing\\xff"
    output = run(["--trust-root", TRUST_ROOT, b"--output", b"json=" + folder + b"/x.json", SAMPLE_V3])
    assert output.returncode == 2 and output.stderr == (
        f"keel-verify: error: --output json={shown}/x.json: cannot write: "
        "No such file or directory\n").encode()
    report = run(["--trust-root", TRUST_ROOT, b"--report", folder + b"/x.html", SAMPLE_V3])
    assert report.returncode == 2 and report.stderr == (
        f"keel-verify: error: cannot write the HTML report {shown}/x.html: "
        "no such folder\n").encode()


def test_outputs_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    """An --output that cannot be opened (here the last) left the others truncated or
    half written; a file already there kept nothing of itself."""
    old = tmp_path / "old.sarif"
    old.write_text('{"old": true}\n')
    new = tmp_path / "new.json"
    fifo = tmp_path / "no-reader.xml"
    os.mkfifo(fifo)
    for last in (f"junit={fifo}", f"junit={tmp_path}/missing/x.xml"):
        result = run(["--trust-root", TRUST_ROOT, "--output", f"json={new}", "--output",
                      f"sarif={old}", "--output", last, SAMPLE_V3])
        assert result.returncode == 2 and result.stdout == b""
        assert old.read_text() == '{"old": true}\n' and not new.exists()
        assert sorted(path.name for path in tmp_path.iterdir()) == ["no-reader.xml", "old.sarif"]
    result = run(["--trust-root", TRUST_ROOT, "--output", f"json={new}", "--output",
                  f"sarif={old}", SAMPLE_V3])
    assert result.returncode == 0
    assert validated(new.read_bytes())["files"][0]["verdict"] == "VERIFIED"
    assert json.loads(old.read_text())["version"] == "2.1.0"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "new.json", "no-reader.xml", "old.sarif"]  # no temporary file left


@pytest.mark.parametrize("kind", ["input", "input through a link", "trust root", "report"])
def test_an_output_onto_a_file_the_run_reads_is_refused(tmp_path: Path, kind: str) -> None:
    """It truncated the artifact before reading it, or replaced the trust root."""
    artifact = tmp_path / "in.json"
    artifact.write_bytes(SAMPLE_V3.read_bytes())
    trust = tmp_path / "trust.json"
    trust.write_bytes(TRUST_ROOT.read_bytes())
    (tmp_path / "link.json").symlink_to(artifact)
    option, target, what = {
        "input": ("--output", f"json={artifact}", f"an input ({artifact})"),
        "input through a link": ("--output", f"json={tmp_path / 'link.json'}", f"an input ({artifact})"),
        "trust root": ("--output", f"json={trust}", f"a trust root ({trust})"),
        "report": ("--report", str(artifact), f"an input ({artifact})"),
    }[kind]
    result = run(["--trust-root", trust, option, target, artifact])
    label = f"--output {target}" if option == "--output" else f"--report {target}"
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == (f"keel-verify: error: {label}: is {what}, which this run reads; "
                             "it would be overwritten\n").encode()
    assert artifact.read_bytes() == SAMPLE_V3.read_bytes()
    assert trust.read_bytes() == TRUST_ROOT.read_bytes()


def test_a_report_path_that_cannot_be_written_is_refused_before_verifying(tmp_path: Path) -> None:
    """It was found after verification, with VERIFIED already on stdout."""
    fifo = tmp_path / "f.html"
    os.mkfifo(fifo)
    for path, problem in ((tmp_path / "missing" / "x.html", "no such folder"),
                          (fifo, "exists and is not a regular file")):
        result = run(["--trust-root", TRUST_ROOT, "--report", path, SAMPLE_V3])
        assert result.returncode == 2 and result.stdout == b""
        assert result.stderr == (f"keel-verify: error: cannot write the HTML report {path}: "
                                 f"{problem}\n").encode()


@pytest.mark.parametrize(("args", "line"), [
    ([b"--output", b"\xff=x", b"a.json"], "--output expects FORMAT=PATH with FORMAT one of text, "
     "json, jsonl, junit, sarif, github, got '\\xff=x'"),
    ([b"--public-key", b"ed25519:\xff", b"a.json"], "public key is not valid base64, got "
     "'ed25519:\\xff'"),
    ([b"-j", b"\xff", b"a.json"], "Invalid value for '--jobs' / '-j': '\\xff' is not a valid "
     "integer range. (try --help)"),
    ([b"--\xff"], "No such option '--\\xff'. (try --help)"),
])
def test_usage_errors_show_bytes_that_are_not_utf8_as_escapes(args: list[bytes], line: str) -> None:
    result = run(args)
    assert result.returncode == 2
    assert result.stderr == f"keel-verify: error: {line}\n".encode()


def test_an_output_is_written_in_place_keeping_its_links_and_mode(tmp_path: Path) -> None:
    """As open(path, "w") writes: the same file (a hard link sees the report, the mode is
    kept), not a new file renamed over it."""
    first, second = tmp_path / "h1.json", tmp_path / "h2.json"
    first.write_text("old\n")
    os.link(first, second)
    first.chmod(0o640)
    result = run(["--trust-root", TRUST_ROOT, "--output", f"json={first}", SAMPLE_V3])
    assert result.returncode == 0
    assert validated(second.read_bytes())["files"][0]["verdict"] == "VERIFIED"
    assert first.stat().st_mode & 0o777 == 0o640 and first.stat().st_ino == second.stat().st_ino


def test_a_report_dir_onto_a_file_the_run_reads_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    artifact = folder / "x.html"  # its report would be reports/x.html itself
    artifact.write_bytes(SAMPLE_V3.read_bytes())
    result = run(["--trust-root", TRUST_ROOT, "--report-dir", folder, artifact])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == (f"keel-verify: error: --report-dir {folder} (x.html): is an input "
                             f"({artifact}), which this run reads; it would be overwritten\n").encode()
    trust = folder / "index.html"
    trust.write_bytes(TRUST_ROOT.read_bytes())
    result = run(["--trust-root", trust, "--report-dir", folder, SAMPLE_V3])
    assert result.returncode == 2 and b"is a trust root" in result.stderr
    assert trust.read_bytes() == TRUST_ROOT.read_bytes()


@pytest.mark.parametrize(("option", "kind", "problem"), [
    ("--report-dir", "file", "cannot write the HTML reports in {path}: exists and is not a folder"),
    ("--report", "slash", "cannot write the HTML report {path}: names a folder, not a file"),
])
def test_report_paths_are_judged_before_verifying(tmp_path: Path, option: str, kind: str,
                                                   problem: str) -> None:
    path = str(tmp_path / "a-file") if kind == "file" else f"{tmp_path}/new/"
    if kind == "file":
        Path(path).write_text("x")
    result = run(["--trust-root", TRUST_ROOT, option, path, SAMPLE_V3])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == f"keel-verify: error: {problem.format(path=path)}\n".encode()


def test_an_html_report_that_fails_after_verifying_leaves_the_outputs_as_they_were(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keel_verify.errors import ReportWriteError
    from keel_verify.report import html
    from tests.test_robustness import run_cli_in_process

    def failing(*_: Any) -> None:
        raise ReportWriteError("cannot write the HTML report r.html: No space left on device")

    monkeypatch.setattr(html, "write_html_outputs", failing)
    old, new = tmp_path / "o.json", tmp_path / "n.xml"
    old.write_text("OLD\n")
    code, _out, err = run_cli_in_process(
        ["--trust-root", str(TRUST_ROOT), "--output", f"json={old}", "--output", f"junit={new}",
         "--report", str(tmp_path / "r.html"), str(SAMPLE_V3)], "utf-8")
    assert code == 2 and b"No space left on device" in err
    assert old.read_text() == "OLD\n" and not new.exists()


def _signalled_run(tmp_path: Path, signame: str, ignored: bool = False, again: str = ""
                   ) -> tuple[subprocess.CompletedProcess[bytes], Path, Path]:
    """A run with two --output files and worker processes that sends itself ``signame``
    while the first report is written (``ignored``: the signal is ignored when the run
    starts, as under nohup), and ``again`` (a second signal) as it starts to stop its
    workers."""
    old, new = tmp_path / "o.json", tmp_path / "n.xml"
    old.write_text("OLD\n")
    script = ("import os, signal; import keel_verify.gate as gate; real = gate.finish_all\n"
              "from keel_verify import runner; stop = runner._stop\n"
              + (f"signal.signal(signal.{signame}, signal.SIG_IGN)\n" if ignored else "") +
              "def finishing(*args):\n"
              "    for output in real(*args):\n"
              f"        os.kill(os.getpid(), signal.{signame}); yield output\n"
              "def stopping(pool):\n"
              + (f"    os.kill(os.getpid(), signal.{again})\n" if again else "") +
              "    stop(pool)\n"
              "gate.finish_all, runner._stop = finishing, stopping\n"
              "from keel_verify.cli import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", script, "-j", "2", "--trust-root", str(TRUST_ROOT), "--output",
         f"json={old}", "--output", f"junit={new}", *[str(SAMPLE_V3)] * 5, str(SAMPLE_V1)],
        capture_output=True, env=environment(PYTHONPATH=str(ROOT)), timeout=120, check=False)
    return result, old, new


def _entry_run(tmp_path: Path, prelude: str, wrap: str) -> subprocess.CompletedProcess[bytes]:
    """``keel-verify`` through its entry point on two files with one --output, after
    ``prelude``; ``wrap`` is the body of a function around ``cli._main`` (``real`` is it)."""
    script = ("import atexit, os, signal, time\nfrom keel_verify import cli\nreal = cli._main\n"
              f"{prelude}\n"
              "def wrapped(argv):\n" + "".join(f"    {line}\n" for line in wrap.splitlines()) +
              "cli._main = wrapped\n"
              "from keel_verify.entry import keel_verify; keel_verify()")
    return subprocess.run(
        [sys.executable, "-c", script, "-j", "2", "--trust-root", str(TRUST_ROOT), "--output",
         f"json={tmp_path / 'o.json'}", str(SAMPLE_V3), str(SAMPLE_V1)],
        capture_output=True, env=environment(PYTHONPATH=str(ROOT)), timeout=120, check=False)


@pytest.mark.parametrize(("first", "second", "line"), [
    ("SIGTERM", "SIGINT", "terminated by SIGTERM"), ("SIGINT", "SIGTERM", "interrupted"),
    ("SIGHUP", "SIGHUP", "terminated by SIGHUP")])
def test_a_signal_after_the_runs_line_does_not_replace_its_exit_code(
        tmp_path: Path, first: str, second: str, line: str) -> None:
    """The run put the original handlers back as it ended, and a second signal after its
    one line then killed it: the shell saw the second signal's code, not the first's."""
    during = ("import keel_verify.gate as gate\nfinish_all = gate.finish_all\n"
              "def finishing(*args):\n    for output in finish_all(*args):\n"
              f"        os.kill(os.getpid(), signal.{first}); yield output\n"
              "gate.finish_all = finishing")
    result = _entry_run(tmp_path, during, "try:\n    real(argv)\nfinally:\n"
                        f"    os.kill(os.getpid(), signal.{second}); time.sleep(0.1)")
    assert (result.returncode, result.stderr) == (128 + signal_number(first),
                                                  f"keel-verify: {line}\n".encode())


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_as_the_interpreter_exits_does_not_replace_the_verdicts_code(
        tmp_path: Path, signame: str) -> None:
    """Ctrl-C in the last milliseconds (the interpreter exiting) ended the process by the
    signal, with no line, in place of the verdicts' exit code. Here a shell sends the
    signal without pause from the run's last atexit call until the process is gone,
    through the interpreter's finalization (where it puts the default actions back)."""
    killer = ("import subprocess\natexit.register(lambda: (subprocess.Popen(['sh', '-c', "
              f"'while kill -{signame.removeprefix('SIG')} %d 2>/dev/null; do :; done' "
              "% os.getpid()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, "
              "stderr=subprocess.DEVNULL), time.sleep(0.05)))")
    result = _entry_run(tmp_path, killer, "real(argv)")
    assert (result.returncode, result.stderr) == (0, b"")
    assert validated((tmp_path / "o.json").read_bytes())["files"][1]["verdict"] == "VERIFIED"


@pytest.mark.parametrize(("signame", "line"), [("SIGTERM", "terminated by SIGTERM"),
                                                ("SIGINT", "interrupted")])
def test_a_signal_python_could_not_raise_still_ends_the_run(tmp_path: Path, signame: str,
                                                            line: str) -> None:
    """A signal handled while Python runs a ``__del__`` or a weakref callback (the import
    system's lock callbacks during a lazy import): its exception was printed as
    "Exception ignored in ..." with a traceback and lost, and the run went on to exit 0."""
    script = ("import os, signal, time\nimport keel_verify.gate as gate\n"
              "real = gate.finish_all\n"
              "class Dropped:\n"
              "    def __del__(self):\n"
              f"        os.kill(os.getpid(), signal.{signame}); time.sleep(0.05)\n"
              "def finishing(*args):\n"
              "    for output in real(*args):\n"
              "        dropped = Dropped(); del dropped\n"
              "        yield output\n"
              "gate.finish_all = finishing\n"
              "from keel_verify.entry import keel_verify; keel_verify()")
    old = tmp_path / "o.json"
    old.write_text("OLD\n")
    result = subprocess.run(
        [sys.executable, "-c", script, "--trust-root", str(TRUST_ROOT), "--output",
         f"json={old}", str(SAMPLE_V3), str(SAMPLE_V1)], capture_output=True,
        env=environment(PYTHONPATH=str(ROOT)), timeout=120, check=False)
    assert (result.returncode, result.stderr) == (128 + signal_number(signame),
                                                  f"keel-verify: {line}\n".encode())
    assert old.read_text() == "OLD\n"


def test_two_signals_at_once_are_one_line() -> None:
    """Two signals pending together: the second one's handler, already replaced by SIG_IGN,
    made Python print "OSError: Signal 2 ignored due to race condition" and a traceback."""
    script = ("import os, signal\nimport keel_verify.gate as gate\nreal = gate.finish_all\n"
              "both = {signal.SIGHUP, signal.SIGINT}\n"
              "def finishing(*args):\n"
              "    for output in real(*args):\n"
              "        signal.pthread_sigmask(signal.SIG_BLOCK, both)\n"
              "        os.kill(os.getpid(), signal.SIGHUP); os.kill(os.getpid(), signal.SIGINT)\n"
              "        signal.pthread_sigmask(signal.SIG_UNBLOCK, both)\n"
              "        yield output\n"
              "gate.finish_all = finishing\n"
              "from keel_verify.entry import keel_verify; keel_verify()")
    result = subprocess.run(
        [sys.executable, "-c", script, "-j", "2", "--trust-root", str(TRUST_ROOT), str(SAMPLE_V3),
         str(SAMPLE_V1)], capture_output=True, env=environment(PYTHONPATH=str(ROOT)), timeout=120,
        check=False)
    assert (result.returncode, result.stderr) == (129, b"keel-verify: terminated by SIGHUP\n")


def test_the_entry_point_loads_almost_nothing_before_it_can_answer_ctrl_c() -> None:
    """A Ctrl-C while ``keel_verify/__init__`` imported ``typing`` was a traceback."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys; before = set(sys.modules); import keel_verify.entry; "
         "print(sorted(set(sys.modules) - before))"], capture_output=True, text=True,
        env=environment(PYTHONPATH=str(ROOT)), timeout=120, check=True)
    assert result.stdout == "['__future__', 'keel_verify', 'keel_verify.entry', 'keel_verify.version']\n"


@pytest.mark.parametrize(("first", "second", "line"), [
    ("SIGINT", "SIGINT", "interrupted"), ("SIGHUP", "SIGTERM", "terminated by SIGHUP"),
    ("SIGINT", "SIGHUP", "interrupted")])
def test_a_second_signal_does_not_cut_the_unwinding_short(tmp_path: Path, first: str,
                                                          second: str, line: str) -> None:
    """Ctrl-C pressed twice: the second one, arriving while the run stopped its workers,
    cut that short. The run then hung for ever (the workers, which leave Ctrl-C to the
    run, were never stopped), or printed an "Exception ignored" traceback, or left the
    files it had created."""
    result, old, _new = _signalled_run(tmp_path, first, again=second)
    assert (result.returncode, result.stderr) == (128 + signal_number(first),
                                                  f"keel-verify: {line}\n".encode())
    assert old.read_text() == "OLD\n" and sorted(p.name for p in tmp_path.iterdir()) == ["o.json"]


@pytest.mark.parametrize(("signame", "line"), [
    ("SIGTERM", "terminated by SIGTERM"), ("SIGHUP", "terminated by SIGHUP"),
    ("SIGINT", "interrupted")])
def test_a_terminated_run_leaves_the_outputs_as_they_were(tmp_path: Path, signame: str,
                                                          line: str) -> None:
    """A CI timeout sends SIGTERM: the run unwinds (exit 128 + the signal's number), the
    files it was to write keep their content and those it created are removed. Ctrl-C
    says so in one line (click wrote an empty line before it)."""
    result, old, _new = _signalled_run(tmp_path, signame)
    assert result.returncode == 128 + signal_number(signame)
    assert result.stderr == f"keel-verify: {line}\n".encode()
    assert old.read_text() == "OLD\n" and sorted(p.name for p in tmp_path.iterdir()) == ["o.json"]


@pytest.mark.parametrize("signame", ["SIGHUP", "SIGINT", "SIGTERM"])
def test_a_signal_ignored_at_the_start_stays_ignored(tmp_path: Path, signame: str) -> None:
    """``nohup keel-verify ...`` went on only until the terminal closed: the run put its
    own handler in place of the ignored SIGHUP."""
    result, old, new = _signalled_run(tmp_path, signame, ignored=True)
    assert (result.returncode, result.stderr) == (0, b"")
    assert validated(old.read_bytes())["files"][1]["verdict"] == "VERIFIED" and new.exists()


def test_a_report_dir_page_that_cannot_be_replaced_is_refused_before_verifying(
        tmp_path: Path) -> None:
    """It was found after verifying, with earlier pages already written or replaced."""
    folder = tmp_path / "reports"
    (folder / "index.html").mkdir(parents=True)
    (folder / "one.html").write_text("OLDHTML\n")
    one = tmp_path / "one.json"
    one.write_bytes(SAMPLE_V3.read_bytes())
    result = run(["--trust-root", TRUST_ROOT, "--report-dir", folder, one])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == (f"keel-verify: error: cannot write the HTML reports in {folder}: "
                             "index.html exists and is not a regular file\n").encode()
    assert (folder / "one.html").read_text() == "OLDHTML\n"


def test_report_dir_pages_are_written_all_or_none(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from keel_verify import verify_path
    from keel_verify.report import html

    reports = [verify_path(SAMPLE_V3, TrustPolicy()), verify_path(SAMPLE_V1, TrustPolicy())]
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "voice_session_v3.html").write_text("OLDHTML\n")

    def failing(*_: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(html, "render_index", failing)
    with pytest.raises(OSError):
        html.write_report_dir(folder, reports, {})
    assert sorted(path.name for path in folder.iterdir()) == ["voice_session_v3.html"]
    assert (folder / "voice_session_v3.html").read_text() == "OLDHTML\n"
    monkeypatch.undo()
    html.write_report_dir(folder, reports, {})
    assert sorted(path.name for path in folder.iterdir()) == [
        "index.html", "voice_session_v1.html", "voice_session_v3.html"]


def test_a_signal_to_the_whole_group_ends_a_run_with_workers(tmp_path: Path) -> None:
    """SIGHUP to the process group (a closed terminal) reaches the workers too: the run
    still ends with exit 129 and its outputs untouched. (A reviewer saw such a run hang:
    a worker killed while sending its result left the pool's thread waiting for ever.
    The test failed on the code before the workers left the group's signals to the run.)"""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(40):
        (inputs / f"a{index}.json").write_bytes(SAMPLE_V3.read_bytes())
    old = tmp_path / "o.json"
    old.write_text("OLD\n")
    script = ("import os, signal; import keel_verify.gate as gate; real = gate.finish_all\n"
              "def finishing(*args):\n"
              "    for output in real(*args):\n"
              "        os.killpg(os.getpgid(0), signal.SIGHUP); yield output\n"
              "gate.finish_all = finishing\n"
              "from keel_verify.cli import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", script, "--jobs", "2", "--trust-root", str(TRUST_ROOT),
         "--output", f"json={old}", str(inputs)],
        capture_output=True, env=environment(PYTHONPATH=str(ROOT)), timeout=120, check=False,
        start_new_session=True)
    assert result.returncode == 129
    assert result.stderr == b"keel-verify: terminated by SIGHUP\n"
    assert old.read_text() == "OLD\n"
