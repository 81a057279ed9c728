"""Test helpers: the public samples, a test issuer key, and tamper-and-re-sign.

Every key here is a TEST key derived from a fixed seed; none protects anything.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.emit.signing import ed25519_key_from_seed, encoded_public_key, sign_document

DATA = Path(__file__).parent / "data"
PUBLIC = DATA / "keel-public"
PUBLIC_V1 = PUBLIC / "voice_session_export.json"
PUBLIC_V3 = PUBLIC / "voice_session_export_v3.json"

#: The key embedded in the public v3 / v1 samples (self-attested; no trust root exists).
PUBLIC_V3_KEY = "ed25519:QZbGRJQZdOYf/ecudWHr0JbkXb7SMCRU5BSvbqRHvIM="

TEST_ISSUER_KEY: Ed25519PrivateKey = ed25519_key_from_seed(b"keel-verify TEST issuer key #1")
OTHER_KEY: Ed25519PrivateKey = ed25519_key_from_seed(b"keel-verify TEST attacker key #1")
TEST_ISSUER_PUBLIC = encoded_public_key(TEST_ISSUER_KEY)
OTHER_PUBLIC = encoded_public_key(OTHER_KEY)


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as the module ``benchmarks_<name>`` (the folder is
    not a package; its harnesses are tested without timing)."""
    spec = importlib.util.spec_from_file_location(
        f"benchmarks_{name}", Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


def public_v3() -> dict[str, Any]:
    return load_document(PUBLIC_V3)


def public_v1() -> dict[str, Any]:
    return load_document(PUBLIC_V1)


def to_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def resign(
    document: dict[str, Any], key: Ed25519PrivateKey = TEST_ISSUER_KEY, **kwargs: Any
) -> dict[str, Any]:
    """A deep copy of ``document`` re-signed with ``key`` (signed_at kept unless given)."""
    signed_at = kwargs.pop("signed_at", None)
    if signed_at is None:
        signed_at = document.get("signatures", [{}])[0].get("signed_at", "2026-05-21T14:35:00Z")
    return sign_document(copy.deepcopy(document), key, signed_at=signed_at, **kwargs)


def rechain(document: dict[str, Any], *, payloads: bool = False) -> dict[str, Any]:
    """Re-link the session chain after a deliberate edit, so that a test's tampering
    reaches only the binding it targets. Edits ``document`` in place and returns it.

    From genesis, each entry's ``previous_content_hash`` and ``content_hash`` are
    recomputed and ``chain_head.content_hash`` follows the last entry; a permit's
    ``binding_session_event_hash`` that named an entry's old content hash follows it to
    the new one. With ``payloads=True`` (v1) each embedded payload's
    ``canonicalized_payload_hash`` is recomputed first. Counts, sequences and every other
    member stay as the test set them.
    """
    from keel_verify.crypto.canonical import GENESIS_HASH, canonical_hash

    moved: dict[str, str] = {}
    previous = GENESIS_HASH
    for entry in document["chain"]:
        if payloads and "canonicalized_payload" in entry:
            entry["canonicalized_payload_hash"] = canonical_hash(entry["canonicalized_payload"])
        entry["previous_content_hash"] = previous
        old = entry.get("content_hash")
        entry["content_hash"] = canonical_hash(
            {key: value for key, value in entry.items() if key != "content_hash"}
        )
        if isinstance(old, str):
            moved[old] = entry["content_hash"]
        previous = entry["content_hash"]
    document["chain_head"]["content_hash"] = previous
    permits = document["permits"]
    for permit in [permits.get("parent_session_permit"), *permits["child_tool_call_permits"]]:
        if isinstance(permit, dict) and permit.get("binding_session_event_hash") in moved:
            permit["binding_session_event_hash"] = moved[permit["binding_session_event_hash"]]
    return document


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as a tuple of keys and indices ("()" is the value)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(json_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(json_paths(item, (*path, index)))
    return found


def record_worker_results(monkeypatch: Any) -> list[bool]:
    """Record, for each chunk a shard worker owns (keel_verify/load/shards.py), whether
    its results arrived (True) or this process had to do the chunk itself (False)."""
    from keel_verify.load import shards

    received: list[bool] = []
    receive = shards.Worker._receive

    def count(self: Any) -> Any:
        got = receive(self)
        received.append(got is not None)
        return got

    monkeypatch.setattr(shards.Worker, "_receive", count)
    return received


def count_strict_parses(monkeypatch: Any) -> list[int]:
    """Record the size of every input the strict JSON parser is handed (the exact reading
    path, or a part of the input read strictly)."""
    from keel_verify.load import chainpass, loader

    sizes: list[int] = []
    parse = loader.parse_json

    def counting(data: bytes, **kwargs: Any) -> Any:
        sizes.append(len(data))
        return parse(data, **kwargs)

    monkeypatch.setattr(loader, "parse_json", counting)
    monkeypatch.setattr(chainpass, "parse_json", counting)
    return sizes


def decoded_window_sizes(monkeypatch: Any) -> list[int]:
    """The byte lengths of the windows the dense chain reader decodes, as it decodes them."""
    from keel_verify.load import dense

    sizes: list[int] = []
    decode = dense._decode_window

    def spy(text: bytes, max_depth: int, *more: Any) -> Any:
        sizes.append(len(text))
        return decode(text, max_depth, *more)

    monkeypatch.setattr(dense, "_decode_window", spy)
    return sizes


def record_decoders(monkeypatch: Any) -> list[str]:
    """Record the kind of every msgspec decoder the fast path asks
    ``keel_verify.load.accel.decoder`` for, in order."""
    from keel_verify.load import accel

    kinds: list[str] = []
    decoder = accel.decoder

    def recording(kind: str) -> Any:
        kinds.append(kind)
        return decoder(kind)

    monkeypatch.setattr(accel, "decoder", recording)
    return kinds


def values_in(value: Any) -> int:
    """The JSON values ``value`` holds, itself included (a walk: small test values)."""
    if isinstance(value, dict):
        return 1 + sum(map(values_in, value.values()))
    if isinstance(value, list):
        return 1 + sum(map(values_in, value))
    return 1


def to_a_pipe_nobody_reads(command: list[str], env: dict[str, str], *,
                           stderr_closed: bool = False) -> subprocess.CompletedProcess[bytes]:
    """``command`` writing to a pipe whose reading end is closed before it starts (a reader
    that has gone: every write fails with EPIPE, whenever it comes), stderr captured, or
    closed (``2>&-``) when ``stderr_closed``."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        if stderr_closed:
            command = ["sh", "-c", 'exec "$@" 2>&-', "sh", *command]
        return subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, env=env,
                              timeout=120, check=False)
    finally:
        os.close(write_end)
