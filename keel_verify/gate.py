"""One run of ``keel-verify``: inputs in, reports streamed to every requested output,
the exit code out. The command line (cli.py) only parses options into
:class:`GateOptions`; everything here is plain Python and testable without click.

Exit code (documented in ``keel-verify --help``): 1 if any file FAILED (a check failed,
a warning failed under ``--strict``, or the gate policy was not met), else 2 if any file
is an ERROR, else 3 if any is UNTRUSTED, else 0. Usage errors (bad options, unreadable
trust or policy files, no input) are 2 before anything is verified.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import IO, Any

from keel_verify.errors import KeelVerifyError
from keel_verify.inputs import (
    MAX_FILE_LIST_BYTES,
    Input,
    expand_inputs,
    file_list_of,
    file_list_text,
)
from keel_verify.load.config_files import ConfigFileError
from keel_verify.load.loader import MAX_INPUT_BYTES
from keel_verify.output_files import OutputFiles, output_label, written_onto_read
from keel_verify.policy import POLICY_INFO, GatePolicy, apply_policy, load_policy
from keel_verify.report.formats import FORMATS
from keel_verify.report.sink import RenderContext, Sink
from keel_verify.results import CheckInfo, Outcome, Report, Totals, Verdict, display_path
from keel_verify.runner import finish_all
from keel_verify.trust.sources import PolicyDescription, TrustSpec, build_policy

STDIN = "-"


class GateUsageError(KeelVerifyError):
    """The options cannot be carried out (exit 2 before anything is verified)."""


@dataclass(frozen=True)
class GateOptions:
    files: tuple[str, ...]
    spec: TrustSpec
    files_from: str | None = None  # a file of paths, one per line ("-": standard input)
    excludes: tuple[str, ...] = ()  # --exclude globs (name or path)
    policy_path: str | None = None
    stdout_format: str = "text"
    outputs: tuple[tuple[str, str], ...] = ()  # (format, path) written in the same run
    quiet: bool = False
    jobs: int = 1
    report_path: str | None = None  # --report: the auditor's HTML report of the one FILE
    report_dir: str | None = None  # --report-dir: one HTML report per FILE and an index


def trust_options(spec: TrustSpec) -> list[str]:
    """The trust options that reproduce this run (for the HTML report's appendix)."""
    options = [item for key in spec.public_keys for item in ("--public-key", key)]
    if spec.trust_root is not None:
        options += ["--trust-root", spec.trust_root]
    options += [item for pem in spec.tsa_roots for item in ("--tsa-roots", pem)]
    options += ["--self-attested"] * spec.self_attested + ["--strict"] * spec.strict
    return options


def parse_output(text: str) -> tuple[str, str]:
    """``FORMAT=PATH`` -> (format, path)."""
    name, sep, path = text.partition("=")
    if not sep or not path or name not in FORMATS:
        raise GateUsageError(
            f"--output expects FORMAT=PATH with FORMAT one of {', '.join(FORMATS)}, got {text!r:.80}")
    return name, path


def parse_outputs(texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Every ``--output FORMAT=PATH``; GateUsageError when two name the same file (one
    would silently overwrite the other, e.g. JUnit XML uploaded as SARIF)."""
    outputs = tuple(parse_output(text) for text in texts)
    seen: dict[str, tuple[str, str]] = {}
    for name, path in outputs:
        key = os.path.realpath(path)
        if key in seen:
            first_name, first_path = seen[key]
            raise GateUsageError(f"{output_label(first_name, first_path)} and "
                                 f"{output_label(name, path)} name the same file")
        seen[key] = (name, path)
    return outputs


def read_file_list(stream: IO[str]) -> Iterator[str]:
    """Paths from a file list, one per line (blank lines skipped, line ends stripped; a
    line ``-`` names a file called ``-``, never standard input)."""
    for line in stream:
        path = line.rstrip("\r\n")
        if path:
            yield f".{os.sep}-" if path == STDIN else path


def _file_list(options: GateOptions) -> list[str]:
    if options.files_from is None:
        return []
    if options.files_from == STDIN:
        if STDIN in options.files:
            raise GateUsageError("--files-from - and FILE - both want standard input")
        if sys.stdin is None or sys.stdin.closed:  # e.g. descriptor 0 closed at start
            raise GateUsageError("--files-from -: standard input is closed")
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text-only stdin (an embedding program's): read as it is
            return list(read_file_list(sys.stdin))
        try:
            data = stream.read(MAX_FILE_LIST_BYTES + 1)  # bounded as a listed file is
        except OSError as error:  # e.g. standard input opened for writing only
            raise GateUsageError(
                f"--files-from -: cannot read standard input: {error.strerror or error}") from None
        if len(data) > MAX_FILE_LIST_BYTES:
            raise GateUsageError(f"--files-from -: larger than {MAX_FILE_LIST_BYTES} bytes")
        return list(read_file_list(io.StringIO(file_list_of(data), newline="\n")))
    try:
        text = file_list_text(options.files_from)
    except ConfigFileError as error:
        raise GateUsageError(f"--files-from {display_path(options.files_from)}: {error}") from None
    return list(read_file_list(io.StringIO(text, newline="\n")))


def read_source(path: str) -> str | None:
    """An input's text again, to locate reported JSON Pointers (None for standard input
    or when it cannot be read as UTF-8 now)."""
    if path == STDIN:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
        return data.decode("utf-8") if len(data) <= MAX_INPUT_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


def load_gate_policy(path: str | None) -> GatePolicy | None:
    """The gate policy at ``path`` (None for none), validated against this verifier's
    checks and warning codes. PolicyError (one line) when it is not valid."""
    if path is None:
        return None
    from keel_verify.checks import CHECK_CATALOGUE

    warnings = {c.code for info in CHECK_CATALOGUE for c in info.codes if c.outcome is Outcome.WARN}
    return load_policy(path, [info.name for info in CHECK_CATALOGUE], warnings)


def with_policy_trust(spec: TrustSpec, policy: GatePolicy | None) -> TrustSpec:
    """The command line's trust sources plus the policy's (a policy can only add)."""
    if policy is None:
        return spec
    trust = policy.trust
    # A policy's trust root applies beside the command line's (every statement about a
    # key applies, the strictest wins), never instead of it.
    extra_roots = (trust.trust_root,) if trust.trust_root else ()
    return replace(
        spec,
        public_keys=spec.public_keys + trust.public_keys,
        self_attested=spec.self_attested or trust.self_attested,
        more_trust_roots=spec.more_trust_roots + extra_roots,
        tsa_roots=spec.tsa_roots + trust.tsa_roots,
        tsa_certs=spec.tsa_certs + trust.tsa_certs,
        trust_names=tuple(dict.fromkeys(spec.trust_names + trust.named)),
    )


def describe_gate_policy(policy: GatePolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {"name": policy.name, "source": policy.source, "sha256": policy.sha256}


@dataclass(frozen=True)
class FileOutput:
    """What the process writing the outputs needs of one file: its verdict, the line for
    stderr when it could not be read, a rendered piece per output (in sink order), and
    the report itself only when it must be kept (the HTML reports)."""

    verdict: Verdict
    error_line: str | None
    pieces: tuple[Any, ...]
    report: Report | None = None


@dataclass(frozen=True)
class FinishReport:
    """One report -> its :class:`FileOutput`: judged under the gate policy (at ``now``)
    and rendered by every output's renderer. Picklable, so worker processes run it next
    to the verification and send back rendered text, not whole reports."""

    policy: GatePolicy | None
    now: datetime
    renderers: tuple[Callable[[Report], Any], ...]
    keep: bool = False

    def __call__(self, report: Report) -> FileOutput:
        if self.policy is not None:
            report = apply_policy(report, self.policy, self.now)
        error_line = None
        if report.error is not None and not report.checks:  # an unreadable input: also on stderr
            error_line = f"keel-verify: error: {report.path}: {report.error}\n"
        return FileOutput(report.verdict, error_line,
                          tuple(render(report) for render in self.renderers),
                          report if self.keep else None)


def _written(options: GateOptions, pages: Sequence[str]) -> list[tuple[str, str]]:
    """The files this run writes: ``(label, path)`` (``pages``: --report-dir's names)."""
    written = [(output_label(name, path), path) for name, path in options.outputs]
    if options.report_path is not None:
        written.append((f"--report {display_path(options.report_path)}", options.report_path))
    if options.report_dir is not None:
        written += [(f"--report-dir {display_path(options.report_dir)} ({name})",
                     os.path.join(options.report_dir, name)) for name in pages]
    return written


def _report_dir_names(inputs: Sequence[Input]) -> list[str]:
    """The pages --report-dir writes for ``inputs``: the index and one report each."""
    from keel_verify.report.html import INDEX_NAME, report_names

    return [INDEX_NAME, *report_names([display_path(item.path) for item in inputs])]


def _read(options: GateOptions, spec: TrustSpec, inputs: Sequence[Input]) -> list[tuple[str, str]]:
    """The files this run reads: ``(what, path)``, for :func:`written_onto_read`."""
    read = [(f"an input ({display_path(item.path)})", item.path)
            for item in inputs if item.error is None and item.path != STDIN]
    trust_files = [("a trust root", path) for path in spec.trust_roots]
    trust_files += [("a TSA roots file", path) for path in spec.tsa_roots]
    trust_files += [("a TSA certificates file", path) for path in spec.tsa_certs]
    if options.policy_path is not None:
        trust_files.append(("the --policy file", options.policy_path))
    if options.files_from not in (None, STDIN):
        trust_files.append(("the --files-from list", options.files_from))
    return read + [(f"{what} ({display_path(path)})", path) for what, path in trust_files]


def _require_report_path(path: str) -> None:
    """Refuse, before anything is verified, a --report path the HTML report cannot be
    written to: it is written last, beside itself then renamed, only as a regular file."""
    folder = os.path.dirname(os.path.abspath(path))
    problem: str | None
    if path.endswith(os.sep):
        problem = "names a folder, not a file"
    elif os.path.islink(path):
        problem = "is a symbolic link (name the file it points to)"
    elif os.path.lexists(path) and not os.path.isfile(path):
        problem = "exists and is not a regular file"
    elif not os.path.isdir(folder):
        problem = "no such folder"
    else:
        problem = _cannot_write_in(folder)
    if problem is not None:
        raise GateUsageError(f"cannot write the HTML report {display_path(path)}: {problem}")


def _require_report_dir(path: str, names: Sequence[str]) -> None:
    """Refuse, before anything is verified, a --report-dir that cannot be written: not a
    folder, one of its pages (``names``) already there as something a report may not
    replace, or (it, or the nearest folder above it that it would be made in) not
    writable."""
    blocked = [name for name in names if os.path.islink(os.path.join(path, name))
               or (os.path.lexists(os.path.join(path, name))
                   and not os.path.isfile(os.path.join(path, name)))]
    if os.path.lexists(path) and not os.path.isdir(path):
        problem: str | None = "exists and is not a folder"
    elif blocked:
        problem = f"{display_path(blocked[0])} exists and is not a regular file"
    else:
        existing = os.path.abspath(path)
        while not os.path.lexists(existing):
            existing = os.path.dirname(existing)
        problem = (_cannot_write_in(existing) if os.path.isdir(existing)
                   else f"{display_path(existing)} is not a folder")
    if problem is not None:
        raise GateUsageError(f"cannot write the HTML reports in {display_path(path)}: {problem}")


def _cannot_write_in(folder: str) -> str | None:
    """Why a file cannot be made in ``folder`` (tried: a temporary file made and removed,
    as the HTML writer will make one), or None. Permissions alone do not say (root, a
    read-only mount, an immutable folder, /proc)."""
    try:
        import tempfile  # here: the module costs every run's start-up ~1 ms

        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".keel-verify-probe.")
    except OSError as error:
        return error.strerror or str(error)
    os.close(descriptor)
    os.unlink(probe)
    return None


def run_gate(options: GateOptions, stdout: IO[str], stderr: IO[str]) -> int:
    """Verify every input, stream each report to stdout's format and every ``--output``,
    and return the exit code. KeelVerifyError (one line) for usage problems."""
    gate_policy = load_gate_policy(options.policy_path)
    spec = with_policy_trust(options.spec, gate_policy)
    trust = build_policy(spec)
    inputs = expand_inputs(options.files + tuple(_file_list(options)), options.excludes)
    if options.report_path is not None and len(inputs) != 1:
        raise GateUsageError(f"--report takes exactly one FILE ({len(inputs)} given); "
                             "use --report-dir DIR for several")
    # The HTML index needs every report at once; only then are they kept.
    kept: list[Report] | None = [] if options.report_path or options.report_dir else None
    now = datetime.now(UTC)
    catalogue = _catalogue(gate_policy)
    context = RenderContext(
        catalogue=catalogue,
        trust=PolicyDescription(spec, trust),
        policy=describe_gate_policy(gate_policy),
        quiet=options.quiet,
        source=read_source,
    )
    pages = _report_dir_names(inputs) if options.report_dir is not None else []
    writes = _written(options, pages)
    if writes:  # the files read are listed (and stat'ed) only when some are written
        overwritten = written_onto_read(writes, _read(options, spec, inputs))
        if overwritten is not None:
            raise GateUsageError(overwritten)
    if options.report_path is not None:
        _require_report_path(options.report_path)
    if options.report_dir is not None:
        _require_report_dir(options.report_dir, pages)
    totals = Totals()
    with OutputFiles() as files:
        written: list[Sink] = []  # every --output opens before stdout shows anything
        for name, path in options.outputs:  # OutputOpenError: one line, exit 2
            handle = files.open(path, output_label(name, path))
            written.append(FORMATS[name](handle, replace(context, quiet=False)))
        sinks: list[Sink] = [FORMATS[options.stdout_format](stdout, context), *written]
        finish = FinishReport(gate_policy, now, tuple(sink.renderer for sink in sinks),
                              keep=kept is not None)
        for output in finish_all(inputs, trust, options.jobs, finish,
                                 partial(print, file=stderr)):
            if output.error_line is not None:
                stderr.write(output.error_line)
            totals.count(output.verdict)
            for sink, piece in zip(sinks, output.pieces, strict=True):
                sink.write(piece)
            if kept is not None and output.report is not None:
                kept.append(output.report)
        for sink in sinks:
            sink.close(totals)
        if kept is not None:  # before the commit: if it fails, no output is changed
            from keel_verify.report.html import write_html_outputs

            write_html_outputs(kept, options.report_path, options.report_dir, context.trust,
                               trust_options(spec))
        files.commit()  # every --output whole, or (on any error above) none changed;
        # the HTML pages, written just before, are each put in place whole
    return totals.exit_code


def _catalogue(policy: GatePolicy | None) -> tuple[CheckInfo, ...]:
    from keel_verify.checks import CHECK_CATALOGUE

    return (*CHECK_CATALOGUE, POLICY_INFO) if policy is not None else CHECK_CATALOGUE
