"""``keel-emit``: produce real, verifiable voice-session attestations.

Commands: ``demo``, ``replay``, ``ingest``, ``scenario``, ``serve``, ``openapi``,
``tsa serve``, ``keygen``, ``trust-root``.
Every bad input ends with one line on standard error and a non-zero exit status, never
a traceback. Output files are written to a temporary file and renamed into place, so a
failed run never leaves a partial file.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO, cast

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.console import (
    ForgivingStream,
    forgiving_stdout,
    open_stderr,
    point_at_null_device,
)
from keel_verify.emit.artifact import dump_artifact, write_atomically
from keel_verify.emit.clock import DEMO_START, RandomIds, SeededIds, SteppingClock, SystemClock
from keel_verify.emit.demo import (
    build_demo_artifact,
    demo_scenario,
    demo_signer,
    make_timestamper,
    run_scenario,
)
from keel_verify.emit.engine import Engine, EngineConfig
from keel_verify.emit.errors import EmitError
from keel_verify.emit.keys import (
    DEMO_SCENARIO_SEED,
    DEMO_TSA_SEED,
    demo_issuer_key,
    generate_key_pem,
    load_private_key,
    write_private_key,
)
from keel_verify.emit.signing import encoded_public_key, fingerprint_key_id
from keel_verify.emit.trust_root import trust_root_document
from keel_verify.entry import interrupted
from keel_verify.errors import LoadError
from keel_verify.load.loader import read_input
from keel_verify.signals import Terminated
from keel_verify.version import __version__

API_KEY_ENV = "KEEL_EMIT_API_KEY"
DEFAULT_DB = "keel-emit.sqlite3"
MAX_SCENARIO_BYTES = 256 * 1024 * 1024
EXIT_BAD_INPUT = 1
EXIT_INTERNAL = 70

_schema_option = click.option(
    "--schema-version", type=click.Choice(["3", "1"]), default="3", show_default=True,
    help="3: hash-only chain entries; 1: embedded payloads.")
_replay_schema_option = click.option(
    "--schema-version", type=click.Choice(["3", "1"]), default=None,
    help="3 or 1 for every session, whatever the start bodies name. "
         "Default: each start body's schema_version, else 3.")
_tsa_option = click.option(
    "--tsa", "tsa", default="local", show_default=True, metavar="local|none|URL",
    help="RFC 3161 witness: the built-in test TSA, none, or an http(s) TSA URL.")
_no_tsa_option = click.option("--no-tsa", is_flag=True,
                              help="No timestamp (same as --tsa none): tsa_status says "
                                   "degraded_no_receipt.")
_seed_option = click.option("--seed", default=DEMO_SCENARIO_SEED, show_default=True,
                            help="Seed of the session, permit and event ids.")
_key_option = click.option(
    "--issuer-key", type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 issuer key (PEM, from keel-emit keygen). Default: the public TEST key.")
_output_option = click.option("-o", "--output", required=True,
                              type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
                              help="Where to write the artifact ('-' for standard output).")


def _issuer_key(path: Path | None) -> Ed25519PrivateKey:
    return demo_issuer_key() if path is None else load_private_key(path)


def _tsa_choice(tsa: str, no_tsa: bool) -> str:
    return "none" if no_tsa else tsa


def _write(output: Path, data: bytes) -> None:
    if str(output) == "-":
        _write_standard_output(data)
        return
    try:
        write_atomically(output, data)
    except OSError as error:
        raise EmitError(EXIT_BAD_INPUT, f"{output}: cannot write: {error.strerror}") from None


def _write_standard_output(data: bytes) -> None:
    """``data`` on the process's standard output (the real one: :func:`main` puts a
    forgiving stream in ``sys.stdout`` for click's help text). EmitError, one line, when
    it is closed (``>&-``) or a write fails: a reader gone (``| head -c 100``), a full disk;
    what was written is then not the whole artifact."""
    stream = cast(TextIO | None, sys.stdout.inner if isinstance(sys.stdout, ForgivingStream)
                  else sys.stdout)
    if stream is None or stream.closed:
        raise EmitError(EXIT_BAD_INPUT, "standard output is closed; nothing written")
    try:
        stream.flush()
        rest = memoryview(data)
        while rest:  # a pipe whose reader leaves mid-write takes part and raises nothing
            rest = rest[stream.buffer.write(rest):]
        stream.buffer.flush()
    except OSError as error:
        point_at_null_device(stream)
        reason = ("its reader went away" if isinstance(error, BrokenPipeError)
                  else error.strerror or str(error))
        raise EmitError(EXIT_BAD_INPUT, f"cannot write to standard output ({reason}); "
                                        "what it received is not whole") from None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Not KeyboardInterrupt, which click answers with an empty line on stderr and Abort.
    raise Terminated(signum)


def _stop_on_sigterm() -> None:
    """Let SIGTERM end a server like Ctrl-C does: sockets and the database are closed."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _timestamper(choice: str) -> Any:
    try:
        return make_timestamper(choice)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--tsa") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="keel-emit")
@click.pass_context
def cli(context: click.Context) -> None:
    """keel-emit: a local stand-in for the Keel voice service that produces real,
    signed, timestamped voice-session attestations (keel.voice.attestation.phase_a)."""
    if context.invoked_subcommand is None:  # no command: the help, as with --help
        click.echo(context.get_help())
        context.exit(0)


@cli.command()
@_schema_option
@_tsa_option
@_no_tsa_option
@_seed_option
@_key_option
@click.option("--events", type=click.IntRange(min=1), default=None,
              help="Pad the session to exactly this many chain entries (benchmarks).")
@click.option("--text", default=None, help="Transcript text of the padding spans.")
@click.option("--compact", is_flag=True, help="Write compact JSON (faster for huge artifacts).")
@_output_option
def demo(schema_version: str, tsa: str, no_tsa: bool, seed: str, issuer_key: Path | None,
         events: int | None, text: str | None, compact: bool, output: Path) -> None:
    """One complete demo session: every atom type, allowed and denied turns, ai.generate
    and mpp.payment tool calls with child permits, an interruption, then end."""
    kwargs: dict[str, Any] = {} if text is None else {"text": text}
    choice = _tsa_choice(tsa, no_tsa)
    if choice.startswith(("http://", "https://")):
        # A real TSA stamps the real time, so the session must happen now, not on the
        # fixed demo day: time_consistency compares the two. (Not byte-reproducible.)
        kwargs["clock"] = SystemClock()
    try:
        artifact = build_demo_artifact(
            int(schema_version), tsa=_timestamper(choice), seed=seed,
            events=events, issuer_key=_issuer_key(issuer_key), **kwargs)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--events") from None
    _write(output, dump_artifact(artifact, indent=None if compact else 2))


@cli.command()
@click.argument("scenario", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@_replay_schema_option
@_tsa_option
@_no_tsa_option
@_seed_option
@_key_option
@_output_option
@click.option("--no-sign", is_flag=True,
              help="Send the atoms as written (default: sign each with the demo TEST "
                   "sidecar key, registered at each start).")
def replay(scenario: Path, schema_version: str | None, tsa: str, no_tsa: bool, seed: str,
           issuer_key: Path | None, no_sign: bool, output: Path) -> None:
    """Run SCENARIO.json (a JSON list of {"call": ..., "body": ...}) through the sidecar
    client and the engine, with a fixed clock and seeded ids; write the artifact of its
    last end call."""
    from keel_verify.load.loader import parse_json

    try:
        source = sys.stdin.buffer if str(scenario) == "-" else scenario
        calls = parse_json(read_input(source, max_bytes=MAX_SCENARIO_BYTES,
                                      json_object=False))  # a JSON array
    except LoadError as error:
        raise EmitError(EXIT_BAD_INPUT, f"{scenario}: {error}") from None
    from keel_verify.emit.store import MemoryStore

    engine = Engine(MemoryStore(), issuer_key=_issuer_key(issuer_key),
                    clock=SteppingClock(DEMO_START), ids=SeededIds(seed),
                    timestamper=_timestamper(_tsa_choice(tsa, no_tsa)),
                    config=EngineConfig(schema_version=int(schema_version or 3),
                                        force_schema_version=schema_version is not None))
    result = run_scenario(engine, calls, signer=None if no_sign else demo_signer())
    _write(output, dump_artifact(result.artifact))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option("--api-key", envvar=API_KEY_ENV, show_envvar=True,
              help="The Bearer key clients must send (required).")
@click.option("--db", default=DEFAULT_DB, show_default=True,
              help="SQLite file keeping sessions across restarts (created if absent); "
                   "':memory:' keeps them in memory only, lost when the server stops.")
@click.option("--durable", is_flag=True,
              help="Wait for the disk on every commit (survives power loss, slower). "
                   "Without it a commit survives the process being killed.")
@_schema_option
@_tsa_option
@_key_option
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=8 * 1024 * 1024,
              show_default=True)
@click.option("--max-connections", type=click.IntRange(min=1), default=64, show_default=True,
              help="Connections served at once; more get 503.")
@click.option("--socket-timeout", type=click.FloatRange(min=0.1), default=30.0,
              show_default=True, help="Seconds a connection may stay silent.")
@click.option("--verbose", is_flag=True, help="Log every request on standard error.")
def serve(host: str, port: int, api_key: str | None, db: str, durable: bool,
          schema_version: str, tsa: str, issuer_key: Path | None, max_body_bytes: int,
          max_connections: int, socket_timeout: float, verbose: bool) -> None:
    """Serve the Keel realtime-voice API over HTTP (stop with Ctrl-C)."""
    from keel_verify.emit.server import EmitHTTPServer, check_api_key
    from keel_verify.emit.sqlite_store import SQLiteStore

    if not api_key:
        raise click.UsageError(f"an API key is required: --api-key or ${API_KEY_ENV}")
    try:
        check_api_key(api_key)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--api-key") from None
    key = _issuer_key(issuer_key)
    timestamper = _timestamper(tsa)
    try:
        store = SQLiteStore(db, durable=durable)
    except Exception as error:  # sqlite3.Error, StoreFormatError: unreadable, locked, old
        raise EmitError(EXIT_BAD_INPUT, f"--db {db}: {error}") from None
    engine = Engine(store, issuer_key=key, clock=SystemClock(), ids=RandomIds(),
                    timestamper=timestamper,
                    config=EngineConfig(schema_version=int(schema_version)))
    try:
        server = EmitHTTPServer(engine, api_key=api_key, host=host, port=port,
                                max_body_bytes=max_body_bytes,
                                max_connections=max_connections,
                                socket_timeout=socket_timeout, quiet=not verbose)
    except OSError as error:
        store.close()
        raise EmitError(EXIT_BAD_INPUT, f"cannot listen on {host}:{port}: "
                                        f"{error.strerror}") from None
    if issuer_key is None:
        click.echo("keel-emit serve: signing with the public TEST issuer key "
                   f"{encoded_public_key(key)} (it protects nothing)", err=True)
    where = ("in memory: sessions are lost when the server stops" if db == ":memory:"
             else f"{Path(db).resolve()}: sessions survive restarts")
    click.echo(f"keel-emit serve: listening on {server.url} (db {where})", err=True)
    _serve_until_stopped(server, store.close)


@cli.command()
@click.option("-o", "--output", required=True,
              type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def openapi(output: Path) -> None:
    """Write the OpenAPI 3.1 document of keel-emit serve (as served at /openapi.json)."""
    from keel_verify.emit.openapi import document_bytes

    _write(output, document_bytes())


def _serve_until_stopped(server: Any, *cleanups: Callable[[], None]) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the server and run ``cleanups``."""
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, Terminated):
        pass
    finally:
        server.server_close()
        for cleanup in cleanups:
            cleanup()


@cli.group(invoke_without_command=True)
@click.pass_context
def tsa(context: click.Context) -> None:
    """The RFC 3161 test TSA (TEST ONLY: its key comes from a public seed)."""
    if context.invoked_subcommand is None:  # no command: the help, as with --help
        click.echo(context.get_help())
        context.exit(0)


@tsa.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=3161, show_default=True)
@click.option("--seed", default=DEMO_TSA_SEED.decode(), show_default=True,
              help="Seed of the TSA's keys and certificates.")
@click.option("--root-pem", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the TSA root certificate (PEM) here.")
def tsa_serve(host: str, port: int, seed: str, root_pem: Path | None) -> None:
    """Serve the test TSA over HTTP (application/timestamp-query), until Ctrl-C."""
    from keel_verify.emit import tsa_http
    from keel_verify.emit.tsa_authority import TestTimestampAuthority

    authority = TestTimestampAuthority.from_seed(seed.encode("utf-8"))
    if root_pem is not None:
        _write(root_pem, authority.root_pem().encode("ascii"))
    try:
        server = tsa_http.serve_tsa(authority, host=host, port=port)
    except OSError as error:
        raise EmitError(EXIT_BAD_INPUT, f"cannot listen on {host}:{port}: "
                                        f"{error.strerror}") from None
    click.echo(f"keel-emit tsa: TEST TSA listening on {server.url}", err=True)
    _serve_until_stopped(server)


@cli.command()
@_schema_option
@click.option("-o", "--output", required=True,
              type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def scenario(schema_version: str, output: Path) -> None:
    """Write the demo session as a replay scenario (keel-emit replay reproduces the
    demo artifact from it, byte for byte)."""
    calls = demo_scenario(int(schema_version))
    _write(output, (json.dumps(calls, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the new private key (PEM; created with mode 0600).")
def keygen(output: Path) -> None:
    """Write a new Ed25519 issuer key and print its public key."""
    if str(output) == "-":  # standard output carries the public key
        raise click.BadParameter("the private key is written to a file (mode 0600), not to "
                                 "standard output", param_hint="'-o' / '--output'")
    key, pem = generate_key_pem()
    write_private_key(output, pem)
    click.echo(encoded_public_key(key))
    click.echo(f"key_id {fingerprint_key_id(key)}; private key written to {output}", err=True)


@cli.command("trust-root")
@_key_option
@click.option("--tsa-seed", default=DEMO_TSA_SEED.decode(), show_default=True,
              help="Seed of the test TSA whose root to include.")
@click.option("--no-tsa-root", is_flag=True, help="List the issuer key only.")
@click.option("-o", "--output", required=True,
              type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def trust_root(issuer_key: Path | None, tsa_seed: str, no_tsa_root: bool, output: Path) -> None:
    """Write a trust-root file (schemas/trust-root-v1) naming the issuer key and the
    test TSA root, for keel-verify --trust-root."""
    document = trust_root_document(
        _issuer_key(issuer_key),
        tsa_seed=None if no_tsa_root else tsa_seed.encode("utf-8"),
        test_keys=issuer_key is None or tsa_seed.encode("utf-8") == DEMO_TSA_SEED,
    )
    _write(output, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode())


@cli.command()
@click.option("--provider", required=True,
              type=click.Choice(["openai-realtime", "twilio", "chronapilot"]),
              help="Whose events the recording holds.")
@click.argument("recording", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@_schema_option
@_tsa_option
@_no_tsa_option
@_key_option
@click.option("--sidecar-key", type=click.Path(path_type=Path, dir_okay=False),
              help="Ed25519 key (PEM) that signs every atom, as the event sidecar.")
@click.option("--project", default="proj_ingest", show_default=True, help="Keel project id.")
@click.option("--endpoint", metavar="URL",
              help="Post the session to this Keel-compatible API instead of running it in "
                   "process (the issuer key and TSA are then the service's).")
@click.option("--api-key", envvar="KEEL_API_KEY", show_envvar=True,
              help="Bearer key for --endpoint.")
@click.option("--ledger", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              help="Also write what became of every recording line (JSON).")
@_output_option
def ingest(provider: str, recording: Path, schema_version: str, tsa: str, no_tsa: bool,
           issuer_key: Path | None, sidecar_key: Path | None, project: str,
           endpoint: str | None, api_key: str | None, ledger: Path | None,
           output: Path) -> None:
    """Turn a provider's recorded session (JSON Lines, see docs/adapters.md) into Keel
    atoms, turns and tool calls, record it (in process, or at --endpoint) and write the
    attestation."""
    from keel_verify.adapters.ingest import ingest_recording

    if endpoint is not None and not (api_key or "").strip():
        raise click.UsageError("--endpoint needs --api-key (or $KEEL_API_KEY)")
    artifact, ledger_json = ingest_recording(
        provider, str(recording), schema_version=int(schema_version),
        timestamper=_timestamper(_tsa_choice(tsa, no_tsa)), issuer_key=_issuer_key(issuer_key),
        sidecar_key=None if sidecar_key is None else load_private_key(sidecar_key),
        project_id=project, endpoint=endpoint, api_key=api_key)
    if ledger is not None:
        _write(ledger, ledger_json)
    _write(output, dump_artifact(artifact))


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"keel-emit: error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps every failure to one line on standard error.

    stderr closed or failing takes its lines nowhere; click's own text (``--help``,
    ``--version``) goes to a forgiving stdout, so that a reader that goes away
    (``--help | head -1``) ends it with exit 0, as the text was asked for and given, not
    with click's exit 1 or Python's 120."""
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stderr = open_stderr()
    sys.stdout = forgiving_stdout(real_stdout, sys.stderr, program="keel-emit")
    try:
        _run(argv)
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = real_stdout, real_stderr


def _run(argv: list[str] | None) -> None:
    # Ctrl-C is answered here, in one line; left alone when it is ignored or handled by
    # whoever runs this, and where no handler can be set (outside the main thread).
    takes_ctrl_c = (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if takes_ctrl_c:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        _run_command(argv)
    except Terminated:
        interrupted("keel-emit")
    finally:
        if takes_ctrl_c:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _run_command(argv: list[str] | None) -> None:
    try:
        result = cli.main(args=argv, prog_name="keel-emit", standalone_mode=False)
    except click.exceptions.Exit as done:  # --help, --version, no command
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        interrupted("keel-emit")
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except EmitError as error:
        _fail(error.message)
    except OSError as error:
        _fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    except KeyboardInterrupt:
        interrupted("keel-emit")
    except Exception as error:  # a bug: still one line, with a hint to report it
        _fail(f"internal error ({type(error).__name__}: {error}); please report it",
              EXIT_INTERNAL)
    if isinstance(result, int) and result:
        sys.exit(result)


if __name__ == "__main__":  # pragma: no cover
    main()
