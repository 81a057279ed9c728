"""``keel-verify FILE...``: the command-line wrapper around :mod:`keel_verify.verifier`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from keel_verify.errors import KeelVerifyError, TrustConfigError
from keel_verify.inputs import expand_inputs
from keel_verify.results import combined_exit_code
from keel_verify.runner import verify_all
from keel_verify.trust.named import NAMED_SOURCES
from keel_verify.trust.policy import environment_trust_root_path
from keel_verify.trust.sources import TrustSpec, build_policy, describe_policy
from keel_verify.version import __version__

EPILOG = """\b
Verdicts and exit codes:
  VERIFIED   0  no check failed and a trusted key (or, with --self-attested,
                the artifact's own embedded key) signed it; warnings are listed
  FAILED     1  a check failed (or, with --strict, a check warned)
  ERROR      2  usage error, or the input is not a readable attestation
  UNTRUSTED  3  nothing failed, but no trust source vouches for the signer
With several files each gets its own verdict; the exit code is 1 if any failed,
else 2 if any errored, else 3 if any is untrusted, else 0.

\b
FILE may be '-' (standard input) or a directory (every *.json below it, sorted).
Verification only reads: it never writes anything but stdout and stderr.
"""


def _list_checks(ctx: click.Context) -> None:
    from keel_verify.checks import CHECK_CATALOGUE, CORE_CHECK_NAMES
    from keel_verify.report.catalogue import catalogue_lines

    for line in catalogue_lines(CHECK_CATALOGUE, CORE_CHECK_NAMES):
        click.echo(line)
    ctx.exit(0)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
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
@click.option("--json", "as_json", is_flag=True, help="One JSON report on stdout (schemas/report-v2).")
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
    public_keys: tuple[str, ...],
    trust_root: str | None,
    tsa_roots: tuple[str, ...],
    tsa_certs: tuple[str, ...],
    trust_names: tuple[str, ...],
    self_attested: bool,
    strict: bool,
    as_json: bool,
    report_path: str | None,
    report_dir: str | None,
    jobs: int | None,
) -> None:
    """Verify Keel voice-session attestation artifacts, offline."""
    spec = TrustSpec(public_keys, self_attested, trust_root, tsa_roots, strict,
                     environment_trust_root=environment_trust_root_path(),  # both apply
                     tsa_certs=tsa_certs, trust_names=trust_names)
    try:
        policy = build_policy(spec)
    except TrustConfigError as error:
        raise click.UsageError(str(error)) from None
    paths = expand_inputs(files)
    if report_path is not None and len(paths) != 1:
        raise click.UsageError(f"--report takes exactly one FILE ({len(paths)} given); "
                               "use --report-dir DIR for several")
    reports = list(verify_all(paths, spec, policy, jobs or os.cpu_count() or 1))
    for report in reports:
        if report.error is not None:  # also on stderr, so CI logs show it even with --json
            click.echo(f"keel-verify: error: {report.path}: {report.error}", err=True)
    if report_path is not None or report_dir is not None:
        from keel_verify.report.html import write_html_outputs

        write_html_outputs(reports, report_path, report_dir, describe_policy(spec, policy),
                           _trust_options(spec))
    if as_json:
        from keel_verify.report.json_report import dumps, reports_to_document

        click.echo(dumps(reports_to_document(reports, describe_policy(spec, policy))))
    else:
        from keel_verify.report.terminal import render

        render(reports, sys.stdout)
    sys.exit(combined_exit_code([report.verdict for report in reports]))


def _trust_options(spec: TrustSpec) -> list[str]:
    """The trust options that reproduce this run (for the HTML report's appendix)."""
    options = [item for key in spec.public_keys for item in ("--public-key", key)]
    if spec.trust_root is not None:
        options += ["--trust-root", spec.trust_root]
    options += [item for pem in spec.tsa_roots for item in ("--tsa-roots", pem)]
    options += ["--self-attested"] * spec.self_attested + ["--strict"] * spec.strict
    return options


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: every error is one line on stderr and a documented exit code."""
    try:
        command.main(args=argv, prog_name="keel-verify", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version
        sys.exit(done.exit_code)
    except click.UsageError as error:
        click.echo(f"keel-verify: error: {error.format_message()}", err=True)
        sys.exit(2)
    except (KeelVerifyError, click.ClickException) as error:
        click.echo(f"keel-verify: error: {error}", err=True)
        sys.exit(2)
    except click.Abort:
        click.echo("keel-verify: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    sys.exit(0)
