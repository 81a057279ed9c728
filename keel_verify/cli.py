"""``keel-verify FILE...``: the command-line wrapper around :mod:`keel_verify.verifier`."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import click

from keel_verify.console import forgiving_stdout, open_stderr, open_stdout
from keel_verify.errors import KeelVerifyError
from keel_verify.gate import GateOptions, parse_outputs, run_gate
from keel_verify.heap import keep_freed_heap
from keel_verify.results import printable, with_bytes_shown
from keel_verify.runner import wedged_pool_threads
from keel_verify.signals import (
    TERMINATING_SIGNALS,
    Terminated,
    disregard_from_now_on,
    forget_received,
    install_quiet_hook,
    note_received,
    raise_if_received,
)
from keel_verify.trust.named import NAMED_SOURCES
from keel_verify.trust.policy import environment_trust_root_path
from keel_verify.trust.sources import TrustSpec
from keel_verify.version import __version__

EPILOG = """\b
Verdicts and exit codes:
  VERIFIED   0  no check failed and a trusted key (or, with --self-attested,
                the artifact's own embedded key) signed it; warnings are listed
  FAILED     1  a check failed (or, with --strict, a check warned; or the
                --policy was not met)
  ERROR      2  usage error, or the input is not a readable attestation
  UNTRUSTED  3  nothing failed, but no trust source vouches for the signer
With several files each gets its own verdict; the exit code is 1 if any failed,
else 2 if any errored, else 3 if any is untrusted, else 0.

\b
FILE may be '-' (standard input) or a directory: every *.json (any case) below
it, sorted, directory links followed; a dangling link or an unreadable folder
is an error. --exclude GLOB drops matching files (by name or path).
--files-from PATH (or - for standard input) adds one path per line.
Formats: text (default), json (schemas/report-v2), jsonl (one schemas/row-v1
row per file, streamed), junit, sarif (2.1.0), github (workflow annotations).
--output FORMAT=PATH writes a format to a file in the same run (repeatable).
Verification only reads: it writes nothing but stdout, stderr and --output files.
A closed stdout or a reader that stops early (| head) keeps the verdicts' code.
"""


def _list_checks(ctx: click.Context) -> None:
    from keel_verify.checks import CHECK_CATALOGUE, CORE_CHECK_NAMES
    from keel_verify.policy import POLICY_INFO
    from keel_verify.report.catalogue import catalogue_lines

    for line in catalogue_lines((*CHECK_CATALOGUE, POLICY_INFO), CORE_CHECK_NAMES):
        click.echo(line)
    ctx.exit(0)


FORMAT_NAMES = ("text", "json", "jsonl", "junit", "sarif", "github")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.argument("files", nargs=-1, metavar="FILE...")
@click.option("--files-from", metavar="PATH|-", help="Also verify the paths listed in PATH, one per line.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Skip files whose name or path matches GLOB (repeatable).")
@click.option("--public-key", "public_keys", multiple=True, metavar="ed25519:BASE64",
              help="Trust this issuer key (repeatable).")
@click.option("--trust-root", metavar="PATH",
              help="Trust-root JSON file: issuer keys with validity windows, TSA roots "
                   "($KEEL_VERIFY_TRUST_ROOT applies as well; the strictest statement wins).")
@click.option("--tsa-roots", multiple=True, metavar="PEM",
              help="PEM file of trusted time-stamp authority roots (repeatable).")
@click.option("--tsa-certs", multiple=True, metavar="PEM",
              help="PEM file of TSA certificates/intermediates that help build a TSA chain; "
                   "never trust anchors (repeatable).")
@click.option("--trust", "trust_names", multiple=True, type=click.Choice(sorted(NAMED_SOURCES)),
              help="Apply a trust source shipped in the package, e.g. keel-production: "
                   "Keel's signed key manifest and TSA trust bundle (repeatable).")
@click.option("--self-attested", is_flag=True,
              help="Accept the key embedded in the artifact: proves internal consistency only.")
@click.option("--strict", is_flag=True, help="Treat any warning as a failure.")
@click.option("--policy", "policy_path", metavar="PATH",
              help="Gate policy JSON file (schemas/policy-v1): required checks, anchored "
                   "witness, allowed warnings, severities, maximum age, schema versions.")
@click.option("--format", "output_format", type=click.Choice(FORMAT_NAMES), default=None,
              help="What to print on stdout (default: text).")
@click.option("--output", "outputs", multiple=True, metavar="FORMAT=PATH",
              help="Also write FORMAT to PATH (repeatable), e.g. --output junit=results.xml.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--quiet", "-q", is_flag=True,
              help="Text output: only files that are not VERIFIED, and the totals line.")
@click.option("--report", "report_path", metavar="PATH",
              help="Write the auditor's HTML report of the one FILE to PATH (self-contained).")
@click.option("--report-dir", metavar="DIR",
              help="Write one HTML report per FILE, and an index.html, into DIR.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
              help="Parallel processes for several files (default: the CPU count).")
@click.option("--list-checks", is_flag=True, is_eager=True, expose_value=False,
              callback=lambda ctx, _param, value: _list_checks(ctx) if value else None,
              help="List every check with what it establishes and its stable reason codes, and exit.")
@click.version_option(__version__, prog_name="keel-verify")
def command(
    files: tuple[str, ...],
    files_from: str | None,
    excludes: tuple[str, ...],
    public_keys: tuple[str, ...],
    trust_root: str | None,
    tsa_roots: tuple[str, ...],
    tsa_certs: tuple[str, ...],
    trust_names: tuple[str, ...],
    self_attested: bool,
    strict: bool,
    policy_path: str | None,
    output_format: str | None,
    outputs: tuple[str, ...],
    as_json: bool,
    quiet: bool,
    report_path: str | None,
    report_dir: str | None,
    jobs: int | None,
) -> None:
    """Verify Keel voice-session attestation artifacts, offline."""
    if not files and files_from is None:
        raise click.UsageError(NO_INPUT)
    if as_json and output_format not in (None, "json"):
        raise click.UsageError(f"--json and --format {output_format} disagree")
    options = GateOptions(
        files=files,
        spec=TrustSpec(public_keys, self_attested, trust_root, tsa_roots, strict,
                       environment_trust_root=environment_trust_root_path(),  # both apply
                       tsa_certs=tsa_certs, trust_names=trust_names),
        files_from=files_from,
        excludes=excludes,
        policy_path=policy_path,
        stdout_format="json" if as_json else output_format or "text",
        outputs=parse_outputs(outputs),
        quiet=quiet,
        jobs=jobs or os.cpu_count() or 1,
        report_path=report_path,
        report_dir=report_dir,
    )
    # Bad trust input (TrustConfigError) is not bad syntax: main() prints it as one line,
    # exit 2, without the "try --help" of a usage error.
    streams: Streams = click.get_current_context().obj or Streams(sys.stdout, open_stderr())
    stderr = streams.stderr
    stdout = open_stdout(streams.stdout, machine=options.stdout_format != "text", notes=stderr)
    sys.exit(run_gate(options, stdout, stderr))


NO_INPUT = "no FILE given"
USAGE = "keel-verify [OPTIONS] FILE..."


def usage_line(error: click.UsageError) -> str:
    """One line: what is wrong, then how to ask for help."""
    message = error.format_message().rstrip()
    if message == NO_INPUT:
        return f"{message} (usage: {USAGE}; try --help)"
    return f"{message} (try --help)"


def _terminate(signum: int, _frame: object) -> None:
    """The first terminating signal unwinds the run; the ones after it are disregarded, so
    that a second Ctrl-C cannot cut the unwinding short (workers left running, files the
    run created left behind) nor replace the exit code. The unwinding is bounded: a few
    seconds at most."""
    note_received(signum)
    disregard_from_now_on(_terminate)
    raise Terminated(signum)


@dataclass(frozen=True)
class Streams:
    """The process's standard streams as :func:`main` found them: ``stdout`` the real one
    (click's own output, --help and --version, goes through a forgiving copy meanwhile),
    ``stderr`` already made safe."""

    stdout: IO[str] | None
    stderr: IO[str]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: every error is one line on stderr and a documented exit code.
    See :func:`_main`. A worker pool whose thread could not be stopped (a worker killed
    while sending a result) would keep the interpreter from exiting: the process then ends
    with ``os._exit``, its streams flushed first."""
    try:
        _main(argv)
    except SystemExit as done:
        if wedged_pool_threads():
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(done.code if isinstance(done.code, int) else 2)
        raise


def _main(argv: Sequence[str] | None) -> None:
    """The command: ends with ``sys.exit`` and the documented exit code in every case.

    A fault of ours (an exception no input should raise) is one line too, "internal error",
    with exit 2 (not judged), never a traceback nor Python's exit 1, which means FAILED
    here. stderr closed or failing takes its lines nowhere (:func:`open_stderr`)."""
    keep_freed_heap()  # this process owns its allocator: no page faults chunk after chunk
    stderr = open_stderr()
    # Ctrl-C, SIGTERM (a CI timeout) and SIGHUP end the run by unwinding, so that no
    # --output file is left half changed (Python's default would stop at once). A signal
    # ignored when the run starts (nohup, a background job) stays ignored.
    before: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():  # where handlers can be set
        for number in TERMINATING_SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:
                before[number] = signal.signal(number, _terminate)
    # A signal's exception raised inside an import's lock callback is only printed by
    # Python, and lost: it is recorded and acted on at the checkpoints instead.
    unraisable_hook = install_quiet_hook()

    def say(line: str) -> None:
        stderr.write(f"keel-verify: {with_bytes_shown(line)}\n")
        stderr.flush()

    # click writes --help, --version and --list-checks to sys.stdout itself, and ends
    # with exit 1 (which reads as FAILED here) when that write fails: it writes to a
    # forgiving stream instead, as reports do, for the length of the command.
    real_stdout = sys.stdout
    sys.stdout = forgiving_stdout(real_stdout, stderr)
    try:
        raise_if_received()  # a Ctrl-C lost while the command's modules loaded
        try:
            command.main(args=argv, prog_name="keel-verify", standalone_mode=False,
                         obj=Streams(real_stdout, stderr))
        finally:
            raise_if_received()  # a signal lost during the run ends it all the same
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.UsageError as error:
        say(f"error: {usage_line(error)}")
        sys.exit(2)
    except (KeelVerifyError, click.ClickException) as error:
        say(f"error: {error}")
        sys.exit(2)
    except click.Abort:
        say("interrupted")
        sys.exit(130)
    except Terminated as ended:  # files being written were left as they were
        say("interrupted" if ended.signum == signal.SIGINT
            else f"terminated by {signal.Signals(ended.signum).name}")
        sys.exit(128 + ended.signum)
    except Exception as error:  # the last guard: one line, exit 2
        say(f"internal error: {type(error).__name__}: {printable(str(error))} "
            "(not a verdict on the input; please report it)")
        sys.exit(2)
    finally:
        sys.stdout.flush()
        sys.stdout = real_stdout
        sys.unraisablehook = unraisable_hook
        forget_received()
        for number, handler in before.items():
            if signal.getsignal(number) is _terminate:  # else disregarded: the run is ending
                signal.signal(number, handler)
    sys.exit(0)
