"""The floor: the least work any verifier of an artifact must do, with the fastest tools.

    python benchmarks/floor.py ARTIFACT.json [--parser msgspec|orjson|json] [--tree] [--json]

It reads the bytes, parses them, and for every chain entry produces the canonical bytes
(docs/format.md §1) of the entry without ``content_hash``, SHA-256s them and compares the result
with ``content_hash`` (and ``previous_content_hash`` with the entry before, from the
genesis hash; and, in schema version 1, the embedded ``canonicalized_payload``'s hash
with ``canonicalized_payload_hash``, docs/format.md §5); then it produces the canonical
bytes of the artifact without ``signatures`` and verifies each Ed25519 issuer signature
over them (streamed: SHA-512(R || A || M) as the message is produced, the equation
finished with libsodium through PyNaCl; with ``--tree`` or without PyNaCl, over the held
message with ``cryptography``).
It really verifies: any mismatch exits 1. It checks nothing else (no schema, no trust,
no timestamps, no strictness, no report), which is what makes it a floor.

Tools, fastest available first (nothing is installed here): ``msgspec``, else
``orjson``, else the standard library. Two ways to do the same work:

* ``stream`` (msgspec only, the default when it is installed): the top level and the
  chain are split into ``msgspec.Raw`` slices of the input without decoding them; each
  entry is then decoded, hashed and appended (canonically re-encoded) to the signed
  message before the next one, so no tree of the whole artifact is ever built. Faster,
  and the peak is about the input plus the message.
* ``tree`` (``--tree``, and the only way with orjson or the standard library): decode
  the whole document, then hash the entries, then encode the whole message.

Whatever the tool, the first entries' bytes are compared with the standard library's
encoder configured as the profile demands, so an encoder that wrote other bytes would be
caught even before the hashes and the signature catch it.

This file deliberately imports nothing from ``keel_verify``: it is an independent
implementation of the same bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

GENESIS = "sha256:" + hashlib.sha256(b"keel-voice-session-artifact-chain-genesis-v1").hexdigest()
#: How many entries are also encoded with the standard library and compared byte for byte.
CROSS_CHECK_ENTRIES = 32

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]

_STDLIB = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True,
                           separators=(",", ":"), check_circular=False)


def stdlib_canonical(value: Any) -> bytes:
    """docs/format.md §1 with the standard library: sorted keys, compact, non-ASCII as itself."""
    return _STDLIB.encode(value).encode("utf-8")


class Mismatch(Exception):
    """The artifact does not verify."""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


# -- tools ----------------------------------------------------------------------------------


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _msgspec_tools(msgspec: Any) -> tuple[Decode, Encode]:
    return msgspec.json.Decoder().decode, msgspec.json.Encoder(order="sorted").encode


def _orjson_tools(orjson: Any) -> tuple[Decode, Encode]:
    option = orjson.OPT_SORT_KEYS

    def encode(value: Any) -> bytes:
        try:
            data: bytes = orjson.dumps(value, option=option)
        except TypeError:  # an integer beyond 64 bits: orjson cannot write it
            return stdlib_canonical(value)
        return data

    def decode(data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits
            return json.loads(data)

    return decode, encode


# -- the work -------------------------------------------------------------------------------


class Chain:
    """Checks entries one by one: canonical bytes, content hash, link to the previous,
    and the embedded payload's hash where there is one (v1).

    Each entry is encoded once: the hashed form (without ``content_hash``) is the full
    form less that member's bytes, which occur exactly once when the key
    ``"content_hash":`` occurs once (a nested object may hold a member of that name;
    then the entry is encoded a second time, without it)."""

    def __init__(self, encode: Encode) -> None:
        self.encode = encode
        self.previous = GENESIS
        self.index = 0
        self.sha256 = hashlib.sha256

    def check(self, entry: dict[str, Any]) -> bytes:
        """Checks ``entry`` (the whole entry); returns its canonical bytes."""
        index = self.index
        if type(entry) is not dict:  # the floor measures artifacts, not malformed chains
            raise Mismatch(f"chain[{index}]: not an object")
        full = self.encode(entry)
        claimed = entry["content_hash"]
        member = b',"content_hash":' + self.encode(claimed)
        if full.count(b'"content_hash":') == 1 and member in full:
            hashed = full.replace(member, b"", 1)
        else:
            hashed = self.encode({k: v for k, v in entry.items() if k != "content_hash"})
        if index < CROSS_CHECK_ENTRIES and full != stdlib_canonical(entry):
            raise Mismatch(f"chain[{index}]: the encoder's bytes differ from the profile's")
        if "sha256:" + self.sha256(hashed).hexdigest() != claimed:
            raise Mismatch(f"chain[{index}]: content_hash does not match the entry")
        if entry["previous_content_hash"] != self.previous:
            raise Mismatch(f"chain[{index}]: previous_content_hash does not link")
        if "canonicalized_payload" in entry:  # schema version 1: the payload is embedded
            payload = entry["canonicalized_payload"]
            payload_bytes = self.encode(payload)
            if index < CROSS_CHECK_ENTRIES and payload_bytes != stdlib_canonical(payload):
                raise Mismatch(f"chain[{index}]: the encoder's payload bytes differ from the profile's")
            if "sha256:" + self.sha256(payload_bytes).hexdigest() != entry["canonicalized_payload_hash"]:
                raise Mismatch(f"chain[{index}]: canonicalized_payload_hash does not match the payload")
        self.previous = claimed
        self.index = index + 1
        return full


class Message:
    """The signed message -- C(artifact without ``signatures``) -- fed in pieces: its
    SHA-256 (the ``content_hash`` signature entries name), SHA-512(R || A || M) for each
    signature (RFC 8032 5.1.7), and its colons (for the duplicate-key proof). With
    ``hold``, the bytes are also kept (the tree variant, and Ed25519 without PyNaCl)."""

    def __init__(self, signatures: Any, hold: bool) -> None:
        self.sha256 = hashlib.sha256()
        self.colons = 0
        self.held = bytearray() if hold else None
        self.prehashes = [] if hold else [
            hashlib.sha512(_b64_after_prefix(s["signature"], "ed25519:")[:32]
                           + _b64_after_prefix(s["public_key"], "ed25519:"))
            for s in signatures]

    def update(self, piece: bytes | bytearray) -> None:
        self.sha256.update(piece)
        self.colons += piece.count(b":")
        for prehash in self.prehashes:
            prehash.update(piece)
        if self.held is not None:
            self.held += piece


def _nacl() -> Any:
    try:
        from nacl import bindings
    except ImportError:
        return None
    return bindings


def _read(path: str, timings: dict[str, float], facts: dict[str, int]) -> bytes:
    start = time.perf_counter()
    with open(path, "rb") as handle:
        data = handle.read()
    facts["bytes"] = len(data)
    timings["read_s"] = time.perf_counter() - start
    return data


def verify_tree(path: str, decode: Decode, encode: Encode, timings: dict[str, float],
                facts: dict[str, int]) -> tuple[Any, Message]:
    """Decode everything, check the chain, encode the message; duplicate keys are
    excluded by counting colons, as in the stream. Returns (signatures, message)."""
    data = _read(path, timings, facts)
    start = time.perf_counter()
    input_colons = no_duplicate_keys_possible(data)
    document = decode(data)
    del data  # not needed any more: do not let it count in the peak
    timings["parse_s"] = time.perf_counter() - start

    start = time.perf_counter()
    chain = Chain(encode)
    entries = document["chain"]
    facts["entries"] = len(entries)
    for entry in entries:
        chain.check(entry)
    timings["entries_s"] = time.perf_counter() - start

    start = time.perf_counter()
    message = Message(document["signatures"], hold=True)
    message.update(encode({key: value for key, value in document.items() if key != "signatures"}))
    if (input_colons is not None
            and message.colons + 1 + encode(document["signatures"]).count(b":") != input_colons):
        raise Mismatch("duplicate object key (the decoder kept only one of them)")
    timings["message_s"] = time.perf_counter() - start
    return document["signatures"], message


def verify_stream(path: str, msgspec: Any, timings: dict[str, float],
                  facts: dict[str, int]) -> tuple[Any, Message]:
    """Split into raw slices, then check each entry and feed it to the message digests in
    turn; duplicate keys are excluded by counting colons (see ``no_duplicate_keys``)."""
    decoder = msgspec.json.Decoder()
    encoder = msgspec.json.Encoder(order="sorted")
    data = _read(path, timings, facts)
    start = time.perf_counter()
    input_colons = no_duplicate_keys_possible(data)
    top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    del data  # the raw slices keep the buffer alive until they go
    raw_entries = msgspec.json.decode(top["chain"], type=list[msgspec.Raw])
    facts["entries"] = len(raw_entries)
    signatures = decoder.decode(top["signatures"])
    timings["split_s"] = time.perf_counter() - start

    start = time.perf_counter()
    chain = Chain(encoder.encode)
    message = Message(signatures, hold=_nacl() is None)
    pending = bytearray(b"{")

    def flush() -> None:
        message.update(pending)
        pending.clear()

    for position, key in enumerate(sorted(k for k in top if k != "signatures")):
        if position:
            pending += b","
        encoder.encode_into(key, pending, -1)
        pending += b":"
        if key != "chain":
            encoder.encode_into(decoder.decode(top[key]), pending, -1)
            continue
        pending += b"["
        for index, raw in enumerate(raw_entries):
            if index:
                pending += b","
            pending += chain.check(decoder.decode(raw))
            if len(pending) >= 1 << 20:
                flush()
        pending += b"]"
    pending += b"}"
    flush()
    # Every colon of the input is a member's separator or a string's character, and
    # canonical bytes write each one once: fewer in the message means a dropped member.
    if (input_colons is not None
            and message.colons + 1 + encoder.encode(signatures).count(b":") != input_colons):
        raise Mismatch("duplicate object key (the decoder kept only one of them)")
    del top, raw_entries
    timings["entries_and_message_s"] = time.perf_counter() - start
    return signatures, message


ESCAPED_COLON = re.compile(rb"\\u003[aA]")  # the JSON escape of ":" (either case)


def no_duplicate_keys_possible(data: bytes) -> int | None:
    """The input's colons, for the duplicate-key proof (the message's colons must equal
    them); None when an escaped colon (``\\u003a``) would upset the count: such input is
    judged for duplicate keys by the standard library instead, and not counted."""
    if b"\\" in data and ESCAPED_COLON.search(data):
        json.loads(data, object_pairs_hook=_refuse_duplicates)
        return None
    return data.count(b":")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise Mismatch("duplicate object key")
    return result


def check_signatures(signatures: Any, message: Message, timings: dict[str, float]) -> None:
    start = time.perf_counter()
    if not signatures:
        raise Mismatch("no signature")
    content_hash = "sha256:" + message.sha256.hexdigest()
    for index, signature in enumerate(signatures):
        if signature.get("content_hash", content_hash) != content_hash:
            raise Mismatch(f"signatures[{index}]: content_hash does not name the message")
        key = _b64_after_prefix(signature["public_key"], "ed25519:")
        raw = _b64_after_prefix(signature["signature"], "ed25519:")
        if message.held is not None:
            ok = _verify_whole(key, raw, message.held)
        else:
            ok = _verify_prehashed(key, raw, message.prehashes[index].digest())
        if not ok:
            raise Mismatch(f"signatures[{index}]: invalid Ed25519 signature")
    timings["signature_s"] = time.perf_counter() - start


def _verify_whole(key: bytes, signature: bytes, message: bytes | bytearray) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


ORDER = 2**252 + 27742317777372353535851937790883648493


def _verify_prehashed(key: bytes, signature: bytes, digest: bytes) -> bool:
    """[S]B - [k]A == R with k = SHA-512(R || A || M) mod L, in libsodium's group
    operations (PyNaCl); keys of the prime-order subgroup only (a floor, not a judge)."""
    bindings = _nacl()
    s = signature[32:]
    if int.from_bytes(s, "little") >= ORDER or not any(s):
        return False
    k = bindings.crypto_core_ed25519_scalar_reduce(digest)
    try:
        check = bindings.crypto_core_ed25519_sub(
            bindings.crypto_scalarmult_ed25519_base_noclamp(s),
            bindings.crypto_scalarmult_ed25519_noclamp(k, key))
    except Exception:
        return False
    return bool(check == signature[:32])


def _b64_after_prefix(text: Any, prefix: str) -> bytes:
    if not isinstance(text, str) or not text.startswith(prefix):
        raise Mismatch(f"expected a {prefix!r} value")
    return base64.b64decode(text[len(prefix):], validate=True)


def run(path: str, parser: str | None, tree: bool, timings: dict[str, float],
        facts: dict[str, int], used: list[str]) -> None:
    """Verify ``path``; appends the description of the tools to ``used`` before starting."""
    for name in [parser] if parser else ["msgspec", "orjson", "json"]:
        if name == "json":
            used.append(f"json (stdlib, Python {sys.version.split()[0]}), tree")
            check_signatures(*verify_tree(path, json.loads, stdlib_canonical, timings, facts), timings)
            return
        module = _import(name)
        if module is None:
            continue
        if name == "msgspec" and not tree:
            used.append(f"msgspec {_version('msgspec')}, stream")
            check_signatures(*verify_stream(path, module, timings, facts), timings)
            return
        used.append(f"{name} {_version(name)}, tree")
        decode, encode = _msgspec_tools(module) if name == "msgspec" else _orjson_tools(module)
        check_signatures(*verify_tree(path, decode, encode, timings, facts), timings)
        return
    raise SystemExit(f"floor: {parser} is not installed")


def _expand(paths: list[str]) -> list[str]:
    """Files as given; a directory means every ``*.json`` below it, sorted."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            out.extend(sorted(str(p) for p in Path(path).rglob("*.json")))
        else:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("artifact", nargs="+",
                        help="files (several, or a directory: one process verifies them in turn)")
    parser.add_argument("--parser", choices=["msgspec", "orjson", "json"],
                        help="force a tool (default: the fastest installed)")
    parser.add_argument("--tree", action="store_true",
                        help="with msgspec: decode the whole tree instead of streaming the entries")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    paths = _expand(args.artifact)

    began = time.perf_counter()
    timings: dict[str, float] = {}
    facts = {"bytes": 0, "entries": 0}
    used: list[str] = []
    ok, problem = True, None
    for path in paths:
        one_timings: dict[str, float] = {}
        one_facts = {"bytes": -1, "entries": -1}
        try:
            run(path, args.parser, args.tree, one_timings, one_facts, used)
        except OSError as error:
            print(f"floor: {path}: {error.strerror or error}", file=sys.stderr)
            return 2
        except (Mismatch, KeyError, TypeError, ValueError, AttributeError) as error:
            ok, problem = False, f"{path}: {type(error).__name__}: {error}"
            break
        for name, value in one_timings.items():
            timings[name] = timings.get(name, 0.0) + value
        for name, count in one_facts.items():
            facts[name] += count
    timings["in_process_s"] = time.perf_counter() - began
    tools = used[0] if used else "?"

    from cryptography import __version__ as cryptography_version

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    streamed = _nacl() is not None and "stream" in tools
    result: dict[str, Any] = {
        "verified": ok,
        "problem": problem,
        "files": len(paths),
        **facts,
        "tools": {"parse_and_canonicalise": tools,
                  "sha256": "hashlib (OpenSSL)",
                  "ed25519": (f"SHA-512 streamed, libsodium group operations (PyNaCl "
                              f"{_version('pynacl')})" if streamed
                              else f"cryptography {cryptography_version}")},
        "timings": timings,
        "maxrss_kib": peak_kib,
    }
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "VERIFIED (floor)" if ok else f"MISMATCH: {problem}"
        shown = paths[0] if len(paths) == 1 else f"{len(paths)} files"
        print(f"{verdict}  {shown}: {facts['entries']} entries, {facts['bytes']} bytes, "
              f"tools: {tools}")
        print("  " + ", ".join(f"{name} {value:.3f}" for name, value in timings.items())
              + f", peak RSS {peak_kib / 1024:.1f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
