"""The floor: the least work any verifier of an artifact must do, with the fastest tools.

    python benchmarks/floor.py ARTIFACT.json [--parser msgspec|orjson|json] [--tree] [--json]

It reads the bytes, parses them, and for every chain entry produces the canonical bytes
(docs/format.md §1) of the entry without ``content_hash``, SHA-256s them and compares the result
with ``content_hash`` (and ``previous_content_hash`` with the entry before, from the
genesis hash; and, in schema version 1, the embedded ``canonicalized_payload``'s hash
with ``canonicalized_payload_hash``, docs/format.md §5); then it produces the canonical
bytes of the artifact without ``signatures`` and verifies each Ed25519 issuer signature
over them with ``cryptography``.
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
import resource
import sys
import time
from collections.abc import Callable
from importlib import metadata
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
    and the embedded payload's hash where there is one (v1)."""

    def __init__(self, encode: Encode) -> None:
        self.encode = encode
        self.previous = GENESIS
        self.index = 0
        self.sha256 = hashlib.sha256

    def check(self, unhashed: dict[str, Any], claimed: Any) -> None:
        """``unhashed``: the entry without ``content_hash``; ``claimed``: that member."""
        index = self.index
        canonical = self.encode(unhashed)
        if index < CROSS_CHECK_ENTRIES and canonical != stdlib_canonical(unhashed):
            raise Mismatch(f"chain[{index}]: the encoder's bytes differ from the profile's")
        if "sha256:" + self.sha256(canonical).hexdigest() != claimed:
            raise Mismatch(f"chain[{index}]: content_hash does not match the entry")
        if unhashed["previous_content_hash"] != self.previous:
            raise Mismatch(f"chain[{index}]: previous_content_hash does not link")
        if "canonicalized_payload" in unhashed:  # schema version 1: the payload is embedded
            payload = unhashed["canonicalized_payload"]
            payload_bytes = self.encode(payload)
            if index < CROSS_CHECK_ENTRIES and payload_bytes != stdlib_canonical(payload):
                raise Mismatch(f"chain[{index}]: the encoder's payload bytes differ from the profile's")
            if "sha256:" + self.sha256(payload_bytes).hexdigest() != unhashed["canonicalized_payload_hash"]:
                raise Mismatch(f"chain[{index}]: canonicalized_payload_hash does not match the payload")
        self.previous = claimed
        self.index = index + 1


def _read(path: str, timings: dict[str, float], facts: dict[str, int]) -> bytes:
    start = time.perf_counter()
    with open(path, "rb") as handle:
        data = handle.read()
    facts["bytes"] = len(data)
    timings["read_s"] = time.perf_counter() - start
    return data


def verify_tree(path: str, decode: Decode, encode: Encode, timings: dict[str, float],
                facts: dict[str, int]) -> tuple[Any, bytes]:
    """Decode everything, check the chain, encode the message. Returns (signatures, message)."""
    data = _read(path, timings, facts)
    start = time.perf_counter()
    document = decode(data)
    del data  # not needed any more: do not let it count in the peak
    timings["parse_s"] = time.perf_counter() - start

    start = time.perf_counter()
    chain = Chain(encode)
    entries = document["chain"]
    facts["entries"] = len(entries)
    for entry in entries:
        chain.check({k: v for k, v in entry.items() if k != "content_hash"}, entry["content_hash"])
    timings["entries_s"] = time.perf_counter() - start

    start = time.perf_counter()
    message = encode({key: value for key, value in document.items() if key != "signatures"})
    timings["message_s"] = time.perf_counter() - start
    return document["signatures"], message


def verify_stream(path: str, msgspec: Any, timings: dict[str, float],
                  facts: dict[str, int]) -> tuple[Any, bytearray]:
    """Split into raw slices, then check each entry and append it to the message in turn."""
    decoder = msgspec.json.Decoder()
    encoder = msgspec.json.Encoder(order="sorted")
    data = _read(path, timings, facts)
    start = time.perf_counter()
    top = msgspec.json.decode(data, type=dict[str, msgspec.Raw])
    del data  # the raw slices keep the buffer alive until they go
    raw_entries = msgspec.json.decode(top["chain"], type=list[msgspec.Raw])
    facts["entries"] = len(raw_entries)
    timings["split_s"] = time.perf_counter() - start

    start = time.perf_counter()
    chain = Chain(encoder.encode)
    message = bytearray(b"{")
    for position, key in enumerate(sorted(k for k in top if k != "signatures")):
        if position:
            message += b","
        encoder.encode_into(key, message, -1)
        message += b":"
        if key != "chain":
            encoder.encode_into(decoder.decode(top[key]), message, -1)
            continue
        message += b"["
        for index, raw in enumerate(raw_entries):
            entry = decoder.decode(raw)
            claimed = entry.pop("content_hash")
            chain.check(entry, claimed)
            entry["content_hash"] = claimed  # the signed message has the whole entry
            if index:
                message += b","
            encoder.encode_into(entry, message, -1)
        message += b"]"
    message += b"}"
    signatures = decoder.decode(top["signatures"])
    del top, raw_entries
    timings["entries_and_message_s"] = time.perf_counter() - start
    return signatures, message


def check_signatures(signatures: Any, message: bytes | bytearray, timings: dict[str, float]) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    start = time.perf_counter()
    if not signatures:
        raise Mismatch("no signature")
    for index, signature in enumerate(signatures):
        key = Ed25519PublicKey.from_public_bytes(_b64_after_prefix(signature["public_key"], "ed25519:"))
        try:
            key.verify(_b64_after_prefix(signature["signature"], "ed25519:"), message)
        except InvalidSignature:
            raise Mismatch(f"signatures[{index}]: invalid Ed25519 signature") from None
    timings["signature_s"] = time.perf_counter() - start


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("artifact")
    parser.add_argument("--parser", choices=["msgspec", "orjson", "json"],
                        help="force a tool (default: the fastest installed)")
    parser.add_argument("--tree", action="store_true",
                        help="with msgspec: decode the whole tree instead of streaming the entries")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    timings: dict[str, float] = {}
    facts = {"bytes": -1, "entries": -1}
    used: list[str] = []
    try:
        run(args.artifact, args.parser, args.tree, timings, facts, used)
        ok, problem = True, None
    except OSError as error:
        print(f"floor: {args.artifact}: {error.strerror or error}", file=sys.stderr)
        return 2
    except (Mismatch, KeyError, TypeError, ValueError, AttributeError) as error:
        ok, problem = False, f"{type(error).__name__}: {error}"
    timings["in_process_s"] = time.perf_counter() - began
    tools = used[0] if used else "?"

    from cryptography import __version__ as cryptography_version

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict[str, Any] = {
        "verified": ok,
        "problem": problem,
        **facts,
        "tools": {"parse_and_canonicalise": tools,
                  "sha256": "hashlib (OpenSSL)",
                  "ed25519": f"cryptography {cryptography_version}"},
        "timings": timings,
        "maxrss_kib": peak_kib,
    }
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "VERIFIED (floor)" if ok else f"MISMATCH: {problem}"
        print(f"{verdict}  {args.artifact}: {facts['entries']} entries, {facts['bytes']} bytes, "
              f"tools: {tools}")
        print("  " + ", ".join(f"{name} {value:.3f}" for name, value in timings.items())
              + f", peak RSS {peak_kib / 1024:.1f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
