"""The auditor's report: one self-contained HTML file per artifact (``--report``), and an
``index.html`` table for many (``--report-dir``).

Each file holds everything it shows: the stylesheet is inline, the timeline is inline
SVG, and a Content-Security-Policy forbids scripts and every network load (no fonts,
images, styles or frames from anywhere). It reads the same on screen and printed to PDF
(print stylesheet, page breaks between sections).

Everything from an artifact is attacker-controlled. The templates are Jinja2 with
autoescaping on, no value is marked safe except by :func:`breakable` (which escapes it
first and adds only ``<wbr>``), no artifact value becomes a URL or an attribute other
than ``title`` text, and :func:`visible` rewrites control, bidi and
invisible characters as visible ``<U+202E>`` text, so hostile text shows as what it is.
Shows only: every value comes from the :class:`~keel_verify.results.Report`.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keel_verify.facts.model import Mark, SessionFacts
from keel_verify.report.session_view import counters_summary, session_summary
from keel_verify.report.sink import FeaturedKeys, trust_featuring
from keel_verify.report.timeline import Picture, build_picture
from keel_verify.results import CheckResult, Outcome, Report, Verdict, counted, display_path
from keel_verify.version import __version__

TEMPLATES = Path(__file__).parent / "templates"

# C0/C1 controls, DEL, bidi embeddings/overrides/isolates and marks, zero-width and
# invisible formatting characters, line/paragraph separators, BOM, interlinear marks.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u206f\u3164\ufeff\ufff9-\ufffb]"
)


def visible(value: Any) -> str:
    """``value`` as text, with every invisible or direction-changing character shown as
    ``<U+XXXX>`` (a NUL, a right-to-left override, a zero-width space ...)."""
    text = "" if value is None else str(value)
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


# Sensible wrap points in identifiers, pointers and digests: after a separator, and
# every 16 digits inside a long run of hex or base64.
_SEPARATOR = re.compile(r"(?<=[/.=])")
_LONG_RUN = re.compile(r"[0-9A-Za-z+]{24,}")


def breakable(value: Any) -> Any:
    """``value`` as escaped, :func:`visible` text with ``<wbr>`` (a line-break opportunity,
    no character) after ``/ . =`` and every 16 characters of a long hex or base64 run,
    so a narrow column wraps a pointer, reason code or SHA-256 there and nowhere else."""
    from markupsafe import Markup, escape

    def runs(match: re.Match[str]) -> str:
        run = match.group()
        return "\x00".join(run[i:i + 16] for i in range(0, len(run), 16))

    text = _LONG_RUN.sub(runs, _SEPARATOR.sub("\x00", visible(value)))
    return Markup("<wbr>").join(escape(part) for part in text.split("\x00"))


_VERDICT_SENTENCE = {
    Verdict.VERIFIED: "This session record is intact and was signed by a key you trust: "
                      "nothing in it changed after it was signed.",
    Verdict.UNTRUSTED: "This session record is internally consistent, but no key you trust "
                       "signed it, so who made it is not proven.",
    Verdict.FAILED: "Do not rely on this session record: at least one check failed.",
    Verdict.ERROR: "This file could not be read as a voice session attestation.",
}
SELF_ATTESTED_SENTENCE = ("This session record is internally consistent, but it was accepted "
                          "only because you chose to trust the key it carries itself: who made "
                          "it is not proven.")

#: What a signature can and cannot say about the content, for a record whose signature
#: verified (VERIFIED or UNTRUSTED): unaltered since signing, but the issuer's own account.
ISSUER_RECORDS_NOTE = ("That the session really went as recorded: the transcript, the reasons "
                       "given for decisions, and the amounts are the issuer's own records. The "
                       "signature shows they have not been changed since they were signed, but "
                       "nothing in this file proves independently that they are true.")
FAILED_RECORDS_NOTE = ("Anything about the session: this record failed verification, so the "
                       "transcript, the reasons given for decisions and the amounts shown are "
                       "only what the file claims; they may have been changed after signing.")
TIME_WITNESSED_NOTE = ("The exact time it was signed. A trusted timestamp shows the records "
                       "already existed at {gen_time}; the issue time (issued_at) is the "
                       "issuer's own claim.")
TIME_UNWITNESSED_NOTE = ("When it was signed: no trusted timestamp was verified, so the only "
                         "time is the issue time (issued_at), which is the issuer's own claim.")

#: Shown above the session, the timeline and the chain when the verdict is not VERIFIED.
_CAVEAT = {
    Verdict.FAILED: "This record failed verification: what follows is what the file claims, "
                    "not established fact.",
    Verdict.UNTRUSTED: "No key you trust signed this record: what follows is unchanged since "
                       "it was signed, but who wrote it, and so whether it is true, is not "
                       "proven.",
}
SELF_ATTESTED_CAVEAT = ("Only the key this record carries itself vouches for it: what follows "
                        "is unchanged since it was signed, but who wrote it, and so whether it "
                        "is true, is not proven.")


def caveat(report: Report) -> str | None:
    """The warning shown above the session content, or None for a VERIFIED record."""
    if _self_attested(report):
        return SELF_ATTESTED_CAVEAT
    return _CAVEAT.get(report.verdict)


def best_proof_of_existence(report: Report) -> str | None:
    """The latest genTime of a verified timestamp receipt, only when the record passed
    every check: on a FAILED record the receipt does not bind the content shown."""
    if report.verdict is Verdict.FAILED or report.session is None:
        return None
    verified = [r.gen_time for r in report.session.receipts
                if r.status == "verified" and r.gen_time]
    return max(verified) if verified else None


def content_gaps(report: Report) -> list[str]:
    """The report's own plain-language gaps: what the issuer's records are, and what is
    known of when they were signed."""
    if report.verdict is Verdict.ERROR:
        return []
    if report.verdict is Verdict.FAILED:
        return [FAILED_RECORDS_NOTE]
    best = best_proof_of_existence(report)
    time_note = (TIME_WITNESSED_NOTE.format(gen_time=best) if best is not None
                 else TIME_UNWITNESSED_NOTE)
    return [ISSUER_RECORDS_NOTE, time_note]


def _self_attested(report: Report) -> bool:
    return (report.verdict is Verdict.VERIFIED and report.signer is not None
            and report.signer.trust_basis == "self-attested")


def verdict_sentence(report: Report) -> str:
    if _self_attested(report):
        return SELF_ATTESTED_SENTENCE
    sentence = _VERDICT_SENTENCE[report.verdict]
    failing = [c for c in report.checks if c.outcome is Outcome.FAIL]
    if report.verdict is Verdict.FAILED and failing:
        # The check's own reason may end in "(and N more)" about its own findings; the
        # count of failing checks is said once, in words, before it.
        checks = "check" if len(failing) == 1 else "checks"
        first = "" if len(failing) == 1 else "; the first"
        sentence = (f"Do not rely on this session record: it failed {len(failing)} of "
                    f"{len(report.checks)} {checks}{first}: {failing[0].name}: "
                    f"{failing[0].reason}")
    if report.verdict is Verdict.ERROR and report.error:
        sentence += f" {report.error}"
    return sentence


_VOUCHED_BY = {
    "trust-root": "a trust source you gave (trust-root file or Keel key manifest)",
    "pinned": "you: the key was pinned on the command line",
    "self-attested": "nobody: only the artifact itself names this key (accepted with "
                     "--self-attested)",
    "none": "nobody: no trust source vouches for this key",
}


@dataclass(frozen=True)
class Trust:
    key: str  # the fingerprint, else the key as stated
    key_id: str | None
    vouched_by: str
    trust_basis: str
    time_basis: str | None
    best_proof_of_existence: str | None
    trusted: bool


def _trust(report: Report) -> Trust | None:
    signer = report.signer
    if signer is None:
        return None
    best = best_proof_of_existence(report)
    vouched = _VOUCHED_BY.get(signer.trust_basis, signer.trust_basis)
    if signer.trust_basis in ("trust-root", "pinned"):
        vouched += f"; {signer.trust_source}"
    return Trust(
        key=signer.fingerprint or "no signature verified",
        key_id=signer.claimed_key_id,
        vouched_by=vouched,
        trust_basis=signer.trust_basis,
        time_basis=signer.time_basis,
        best_proof_of_existence=best,
        trusted=signer.trusted,
    )


@dataclass(frozen=True)
class PolicyRow:
    """One line of the trust policy as the appendix shows it."""

    what: str
    value: str
    note: str = ""
    digest: bool = False  # a fingerprint or hash: shown in monospace, may wrap anywhere


_SOURCE_FIELDS = (
    ("trust_root_file", "Trust-root file"),
    ("environment_trust_root_file", "Trust-root file (from the environment)"),
    ("tsa_roots_source", "TSA roots from"),
    ("tsa_certs_source", "TSA certificates from"),
)


def _crl_count(value: Any) -> str:
    return counted(value, "CRL") if type(value) is int else f"CRLs: {_text(value)}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def policy_rows(policy: Mapping[str, Any]) -> tuple[PolicyRow, ...]:
    """The applied trust policy (``describe_policy``'s mapping) as readable rows: where
    trust came from, each issuer key with its label, fingerprint and conditions, and each
    TSA root with the SHA-256 of its certificate."""
    rows: list[PolicyRow] = []
    for field_name, label in _SOURCE_FIELDS:
        if policy.get(field_name):
            rows.append(PolicyRow(label, _text(policy[field_name])))
    for name in policy.get("named_trust_sources") or ():
        rows.append(PolicyRow("Named trust source", _text(name)))
    keys = policy.get("issuer_keys") or ()
    if not keys:
        rows.append(PolicyRow("Issuer keys", "none: no issuer key is trusted"))
    if policy.get("issuer_keys_partial"):
        rows.append(PolicyRow("Issuer keys", f"{len(keys):,} listed of "
                              f"{_count(policy.get('issuer_key_count'))}",
                              "the key this artifact signed with or named first, then the first "
                              "others; the trust files below hold the whole policy"))
    for key in keys:
        if not isinstance(key, Mapping):
            continue
        conditions = [f"{word} {_text(key.get(field))}" for word, field in (
            ("purpose", "purpose"), ("status", "status"), ("valid from", "not_before"),
            ("valid until", "not_after"), ("revoked at", "revoked_at")) if key.get(field)]
        if key.get("source"):
            conditions.append(f"from {_text(key.get('source'))}")
        label = f"label {_text(key.get('label'))}: " if key.get("label") else ""
        rows.append(PolicyRow("Issuer key", _text(key.get("fingerprint") or key.get("public_key")),
                              label + "; ".join(conditions), digest=True))
    roots = policy.get("tsa_roots") or ()
    digests = policy.get("tsa_root_sha256") or ()
    if not roots:
        rows.append(PolicyRow("TSA roots", "none: no timestamp authority is trusted"))
    for index, subject in enumerate(roots):
        digest = _text(digests[index]) if index < len(digests) else ""
        rows.append(PolicyRow("TSA root", digest or _text(subject), _text(subject)
                              if digest else "", digest=bool(digest)))
    _add_unlisted(rows, "TSA roots", len(roots), policy.get("tsa_root_count"))
    for subject in policy.get("tsa_certs") or ():
        rows.append(PolicyRow("TSA certificate", _text(subject)))
    _add_unlisted(rows, "TSA certificates", len(policy.get("tsa_certs") or ()),
                  policy.get("tsa_cert_count"))
    for rule in policy.get("tsa_revocation_rules") or ():
        if isinstance(rule, Mapping):
            deadline = rule.get("refresh_required_before")
            rows.append(PolicyRow("TSA revocation list", _text(rule.get("source")),
                                  _crl_count(rule.get("crls"))
                                  + (f", refresh before {_text(deadline)}" if deadline else "")))
    rows.append(PolicyRow("Keys the artifact carries itself",
                          "accepted (--self-attested)" if policy.get("self_attested")
                          else "not accepted"))
    if "strict" in policy:
        rows.append(PolicyRow("Strict mode", "on" if policy.get("strict") else "off"))
    for note in policy.get("trust_notes") or ():
        rows.append(PolicyRow("Note", _text(note)))
    for read in policy.get("trust_files") or ():
        if isinstance(read, Mapping):
            rows.append(PolicyRow("Trust file", _text(read.get("sha256")),
                                  f"{_text(read.get('kind'))} {_text(read.get('path'))}",
                                  digest=True))
    return tuple(rows)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else _text(value)


def _add_unlisted(rows: list[PolicyRow], what: str, listed: int, total: Any) -> None:
    """A row saying that only the first ``listed`` of ``total`` statements are shown."""
    if isinstance(total, int) and total > listed:
        rows.append(PolicyRow(what, f"{listed:,} listed of {total:,}",
                              "the first ones; the trust files below hold them all"))


def command_line(options: Sequence[str], path: str) -> str:
    """The keel-verify command that reproduces this verification (for the appendix)."""
    return shlex.join(["keel-verify", *options, path])


@dataclass(frozen=True)
class Page:
    """Everything one report page shows."""

    report: Report
    session: SessionFacts | None
    picture: Picture | None
    verdict_sentence: str
    indication: str
    trust: Trust | None
    not_proven: tuple[str, ...]
    session_line: str | None
    counters_line: str | None
    command: str
    policy: tuple[PolicyRow, ...]
    version: str
    generated_at: str
    check_counts: Mapping[str, int]
    checks: Mapping[str, CheckResult]
    verdict_word: str
    verdict_class: str
    duration: str
    key_marks: tuple[Mark, ...]
    key_marks_omitted: int
    faults: Mapping[int, str]  # chain index -> the checks whose pointers name that entry
    caveat: str | None  # above the session content when the verdict is not VERIFIED
    failed: bool


MAX_KEY_MARKS = 200
_CHAIN_POINTER = re.compile(r"/chain/(\d{1,9})(?:/|$)")


def chain_faults(report: Report) -> dict[int, str]:
    """Which chain entries the failing or warning checks point at (their pointer, and the
    pointers listed in their details), so the chain table can mark them."""
    faults: dict[int, list[str]] = {}
    for check in report.checks:
        if check.outcome not in (Outcome.FAIL, Outcome.WARN):
            continue
        listed = check.details.get("problems", []) + check.details.get("warnings", [])
        pointers = [check.pointer, *(item.get("pointer", "") for item in listed
                                     if isinstance(item, Mapping))]
        for pointer in pointers:
            found = _CHAIN_POINTER.match(pointer) if isinstance(pointer, str) else None
            if found is not None:
                names = faults.setdefault(int(found.group(1)), [])
                if check.name not in names:
                    names.append(check.name)
    return {index: ", ".join(names) for index, names in faults.items()}
_KEY_LANES = ("lifecycle", "turns", "tools", "permits", "interruptions", "witness")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    minutes, rest = divmod(abs(whole), 60)
    hours, minutes = divmod(minutes, 60)
    sign = "-" if whole < 0 else ""
    if hours:
        return f"{sign}{hours} h {minutes} min {rest} s"
    return f"{sign}{minutes} min {rest} s" if minutes else f"{sign}{rest} s"


def _indication(report: Report) -> str:
    return report.indication.value


def page_of(report: Report, policy: Mapping[str, Any], options: Sequence[str],
            generated_at: datetime | None = None) -> Page:
    session = report.session
    key_marks = [m for m in session.timeline.marks if m.lane in _KEY_LANES] if session else []
    counts = {outcome.value: sum(1 for c in report.checks if c.outcome is outcome)
              for outcome in Outcome}
    gaps = [*content_gaps(report), *report.not_proven]
    if session is not None and not session.payloads_embedded:
        gaps.append("the event payloads (transcripts, turn reasons, token counts): this "
                    "schema-version-3 artifact carries only their hashes")
    return Page(
        report=report,
        session=session,
        picture=build_picture(session.timeline) if session is not None else None,
        verdict_sentence=verdict_sentence(report),
        indication=_indication(report),
        trust=_trust(report),
        not_proven=tuple(gaps),
        session_line=session_summary(session) if session is not None else None,
        counters_line=counters_summary(session) if session is not None else None,
        command=command_line(options, report.path),
        policy=policy_rows(trust_featuring(policy, FeaturedKeys.of((report,)).ordered())),
        version=__version__,
        generated_at=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        check_counts=counts,
        checks={c.name: c for c in report.checks},
        verdict_word=("VERIFIED (self-attested)" if _self_attested(report)
                      else report.verdict.value),
        verdict_class="SELF" if _self_attested(report) else report.verdict.value,
        duration=_duration(session.duration_seconds if session is not None else None),
        key_marks=tuple(key_marks[:MAX_KEY_MARKS]),
        key_marks_omitted=max(0, len(key_marks) - MAX_KEY_MARKS),
        faults=chain_faults(report),
        caveat=caveat(report),
        failed=report.verdict is Verdict.FAILED,
    )


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["visible"] = visible
    environment.filters["breakable"] = breakable
    environment.filters["micros"] = _micros
    environment.filters["counted"] = counted
    environment.filters["num"] = lambda v: "\u2013" if v is None else f"{v:,}"
    environment.filters["px"] = lambda v: f"{v:.1f}"
    return environment


def _micros(value: int | None) -> str:
    return "\u2013" if value is None else f"{value:,} micros"


def _stylesheet() -> tuple[str, str]:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return css, f"'sha256-{digest}'"


def _csp(style_hash: str) -> str:
    # Nothing loads, nothing runs: only the one inline stylesheet, by its hash.
    return (f"default-src 'none'; style-src {style_hash}; script-src 'none'; img-src 'none'; "
            "font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
            "frame-src 'none'; base-uri 'none'; form-action 'none'")


def render_report(report: Report, policy: Mapping[str, Any], options: Sequence[str] = (),
                  generated_at: datetime | None = None) -> str:
    """One self-contained HTML page for one report."""
    css, style_hash = _stylesheet()
    template = _environment().get_template("report.html.j2")
    page = page_of(report, policy, options, generated_at)
    return str(template.render(page=page, css=css, csp=_csp(style_hash)))


@dataclass(frozen=True)
class IndexRow:
    report: Report
    href: str
    indication: str
    summary: str


def render_index(rows: Sequence[IndexRow], generated_at: datetime | None = None) -> str:
    css, style_hash = _stylesheet()
    template = _environment().get_template("index.html.j2")
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(template.render(rows=rows, css=css, csp=_csp(style_hash), version=__version__,
                               generated_at=stamp))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a report).
    An OSError names ``path``, never the temporary file."""
    temporary = written_beside(Path(path), text)
    try:
        _put_in_place(temporary, Path(path))
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def _put_in_place(temporary: str, place: Path) -> None:
    """Rename ``temporary`` over ``place``; an OSError names ``place``."""
    try:
        os.replace(temporary, place)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(place)) from None


def written_beside(path: Path, text: str) -> str:
    """``text`` written to a new temporary file beside ``path`` (its name returned; the
    caller renames it over ``path`` or removes it), after checking that ``path`` may be
    replaced: replacing is only for a report written before, never a device, a FIFO, a
    folder or a symbolic link. An OSError names ``path``."""
    temporary: str | None = None
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise OSError(errno.EEXIST, "exists and is not a regular file", str(path))
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        return temporary
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from None
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
#: The index page of a --report-dir (never a report's own name).
INDEX_NAME = "index.html"


def report_names(paths: Sequence[str]) -> list[str]:
    """A distinct, safe file name (``<stem>.html``) for each input path, in order."""
    names: list[str] = []
    taken = {INDEX_NAME}
    for path in paths:
        stem = _SAFE_NAME.sub("_", Path(path).stem if path != "-" else "stdin").strip("._")
        stem = (stem or "artifact")[:80]
        name, number = f"{stem}.html", 2
        while name in taken:
            name, number = f"{stem}-{number}.html", number + 1
        taken.add(name)
        names.append(name)
    return names


def write_report(path: str | Path, report: Report, policy: Mapping[str, Any],
                 options: Sequence[str] = ()) -> None:
    write_text(Path(path), render_report(report, policy, options))


def write_report_dir(directory: str | Path, reports: Sequence[Report],
                     policy: Mapping[str, Any], options: Sequence[str] = ()) -> Path:
    """One report per artifact plus ``index.html``; returns the index's path. All or
    nothing: every page is first written beside its place, then all are renamed into
    place; an error (or a signal) before that removes them and changes no file there."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    pending: list[tuple[str, Path]] = []  # (temporary file, its place)
    renamed = 0
    try:
        rows = []
        for report, name in zip(reports, report_names([r.path for r in reports]), strict=True):
            pending.append((written_beside(folder / name, render_report(report, policy, options)),
                            folder / name))
            summary = session_summary(report.session) if report.session is not None else (
                report.error or "")
            rows.append(IndexRow(report, name, _indication(report), summary))
        index = folder / INDEX_NAME
        pending.append((written_beside(index, render_index(rows)), index))
        for temporary, place in pending:
            _put_in_place(temporary, place)
            renamed += 1
    finally:
        for temporary, _place in pending[renamed:]:
            Path(temporary).unlink(missing_ok=True)
    return index


def write_html_outputs(reports: Sequence[Report], report_path: str | None,
                       report_dir: str | None, policy: Mapping[str, Any],
                       options: Sequence[str]) -> None:
    """``--report PATH`` (one input) and ``--report-dir DIR``; a file system problem
    becomes one :class:`~keel_verify.errors.ReportWriteError` line."""
    from keel_verify.errors import ReportWriteError

    try:
        if report_path is not None:
            write_report(report_path, reports[0], policy, options)
        if report_dir is not None:
            write_report_dir(report_dir, reports, policy, options)
    except OSError as error:
        where = display_path(error.filename or report_path or report_dir or "")
        raise ReportWriteError(f"cannot write the HTML report {where}: "
                               f"{error.strerror or error}") from None
