"""Hostile inputs, built deterministically: shared by the tests (small sizes, to prove each
bound structurally) and ``benchmarks/hostile.py`` (full sizes, to measure time and memory).

Every builder starts from the public v3 sample and changes one thing; the result is the
artifact's bytes (or, for the trust root, the trust-root file's bytes).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

from tests.helpers import public_v3

SIGNED_DATA_OID = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"  # 1.2.840.113549.1.7.2
TSTINFO_OID = b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x04"  # 1.2.840.113549.1.9.16.1.4
SHA256_OID = b"\x60\x86\x48\x01\x65\x03\x04\x02\x01"  # 2.16.840.1.101.3.4.2.1


def der(tag: int, content: bytes) -> bytes:
    """One DER TLV with a definite length."""
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(encoded)]) + encoded
    return bytes([tag]) + header + content


def sequence(*parts: bytes) -> bytes:
    return der(0x30, b"".join(parts))


def integer(value: int) -> bytes:
    return der(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def oid(content: bytes) -> bytes:
    return der(0x06, content)


def long_arc_oid(arc_bytes: int) -> bytes:
    """OID 1.3.<one arc of ``arc_bytes`` base-128 digits>: decoding it costs quadratic time."""
    return oid(b"\x2b" + b"\x81" * (arc_bytes - 1) + b"\x01")


def unsigned_token(*, policy: bytes | None = None, tsa: bytes | None = None, serial: int = 1,
                   digest: bytes = bytes(32), certificates: bytes = b"") -> bytes:
    """A TimeStampToken (ContentInfo/SignedData/TSTInfo) with no SignerInfo: structurally a
    token, signed by nobody. ``policy`` and ``tsa`` replace the TSTInfo fields;
    ``certificates`` (DER, concatenated) are carried as a real token carries its chain."""
    tst_info = sequence(
        integer(1),
        policy if policy is not None else oid(b"\x2b\x06\x01\x04\x01"),
        sequence(sequence(oid(SHA256_OID), der(0x05, b"")), der(0x04, digest)),
        integer(serial),
        der(0x18, b"20260521143208Z"),
        *([der(0xA0, tsa)] if tsa is not None else []),
    )
    signed_data = sequence(
        integer(3),
        der(0x31, b""),
        sequence(oid(TSTINFO_OID), der(0xA0, der(0x04, tst_info))),
        *([der(0xA0, certificates)] if certificates else []),
        der(0x31, b""),
    )
    return sequence(oid(SIGNED_DATA_OID), der(0xA0, signed_data))


def nested_sequences(depth: int) -> bytes:
    """``depth`` SEQUENCEs, each holding the next (built inside out)."""
    inner = b""
    for _ in range(depth):
        inner = sequence(inner)
    return inner


def with_tokens(tokens: list[bytes]) -> dict[str, Any]:
    """The v3 sample with these tokens as its receipts (the first also as
    ``rfc3161_timestamp_receipt``)."""
    document = public_v3()
    template = document["timestamp_receipts"][0]
    document["timestamp_receipts"] = [
        dict(template, tsa_response_base64=base64.b64encode(token).decode("ascii"))
        for token in tokens
    ]
    document["rfc3161_timestamp_receipt"] = document["timestamp_receipts"][0]
    return document


def encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def deep_tsa_name(depth: int) -> bytes:
    """A GeneralName otherName (``[0] IMPLICIT AnotherName``) whose ANY value nests
    SEQUENCEs ``depth`` deep: a generic parser descends all the way."""
    return der(0xA0, oid(b"\x2b\x06\x01\x04\x01") + der(0xA0, nested_sequences(depth)))


def deep_tsa_token(depth: int = 1200) -> bytes:
    """A receipt token whose ``TSTInfo.tsa`` nests a SEQUENCE ``depth`` deep."""
    return encode(with_tokens([unsigned_token(tsa=deep_tsa_name(depth))]))


def long_oid_token(arc_bytes: int = 100_000) -> bytes:
    """A receipt token whose TSTInfo policy OID is one arc of ``arc_bytes`` bytes."""
    return encode(with_tokens([unsigned_token(policy=long_arc_oid(arc_bytes))]))


def many_tokens(count: int = 20_000, *, with_certificates: bool = False) -> bytes:
    """``count`` distinct, well-formed receipt tokens (distinct serial numbers); with
    ``with_certificates`` each carries the emitted sample token's certificates, so that
    each is the size of a real token (about 2 KB)."""
    certificates = sample_certificates() if with_certificates else b""
    return encode(with_tokens([unsigned_token(serial=serial + 1, certificates=certificates)
                               for serial in range(count)]))


def sample_certificates() -> bytes:
    """The DER certificates carried by the token of ``sample/voice_session_v3.json``."""
    from pathlib import Path

    from keel_verify.crypto.rfc3161 import decode_base64_der, parse_token

    sample = Path(__file__).resolve().parent.parent / "sample" / "voice_session_v3.json"
    receipt = json.loads(sample.read_bytes())["timestamp_receipts"][0]
    token = parse_token(decode_base64_der(receipt["tsa_response_base64"]))
    return b"".join(certificate.dump() for certificate in token.certificates)


def empty_chain_entries(count: int = 1_000_000, *, metadata_float: bool = False) -> bytes:
    """A chain of ``count`` empty objects (and, with ``metadata_float``, one float in
    ``session_metadata``: only that member needs the exact reading)."""
    document = public_v3()
    document["chain"] = []
    if metadata_float:
        document["session_metadata"] = {**document.get("session_metadata", {}), "x": 1.5}
    raw = encode(document)
    return raw.replace(b'"chain":[]', b'"chain":[' + b",".join([b"{}"] * count) + b"]", 1)


#: Tiny chain entries, each a JSON text of a few bytes (the "dense chain" cases).
TINY_ENTRIES: dict[str, bytes] = {
    "zero": b"0", "null": b"null", "empty_array": b"[]", "empty_object": b"{}",
    "empty_string": b'""', "x": b'"x"', "true": b"true",
}
#: A mix of them (and a few more) whose period does not divide a chunk of entries, so
#: that no chunk repeats one entry and no two neighbouring chunks are alike.
MIXED_TINY = (b"0", b"null", b"[]", b"{}", b'""', b'"x"', b"true", b"false", b"-1", b"[0]",
              b'{"a":0}')


def tiny_chain_entries(count: int, entries: tuple[bytes, ...] | bytes = b"0") -> bytes:
    """The v3 sample whose chain is ``count`` tiny entries: ``entries`` (JSON texts)
    repeated in turn, e.g. ``b"0"`` for ``[0,0,...]``."""
    texts = (entries,) if isinstance(entries, bytes) else entries
    items = (texts * (count // len(texts) + 1))[:count]
    return _with_raw_chain(b",".join(items))


def string_chain_entries(count: int, width: int = 28) -> bytes:
    """The v3 sample whose chain is ``count`` distinct strings of ``width`` digits
    (``width + 2`` bytes each with their quotes)."""
    return _with_raw_chain(b",".join(b'"%0*d"' % (width, index) for index in range(count)))


def distinct_object_entries(count: int) -> bytes:
    """The v3 sample whose chain is ``count`` distinct small objects ``{"i":N}``: each an
    entry to hash, none stating a content hash."""
    return _with_raw_chain(b",".join(b'{"i":%d}' % index for index in range(count)))


def two_member_objects(count: int) -> bytes:
    """The v3 sample whose chain is ``count`` distinct objects of two members
    (``{"content_hash":"x","i":N}``): every other comma lies inside an entry."""
    return _with_raw_chain(b",".join(b'{"content_hash":"x","i":%d}' % index
                                     for index in range(count)))


def large_array_entries(count: int, items: int, *, in_object: bool = False) -> bytes:
    """The v3 sample whose chain is ``count`` entries, each an array of ``items`` zeros
    (with ``in_object``, each the object ``{"a": [that array]}``)."""
    array = b"[" + b",".join([b"0"] * items) + b"]"
    entry = b'{"a":' + array + b"}" if in_object else array
    return _with_raw_chain(b",".join([entry] * count))


def _wide_names(count: int, scattered: bool) -> list[bytes]:
    """``"name":`` for ``count`` names: ``m0``, ``m1``, ... (a few ascending runs), or
    ``scattered``, 8 hex digits in no order (a bijection of the index)."""
    if scattered:
        return [b'"%08x":' % (index * 2654435761 % 2**32) for index in range(count)]
    return [b'"m%d":' % index for index in range(count)]


def wide_object_entries(count: int, members: int, number: bytes = b"%d", *,
                        nested: bool = False, scattered: bool = False) -> bytes:
    """The v3 sample whose chain is ``count`` entries, each an object of ``members``
    members ``"m0":k,"m1":k,...`` where ``k`` is the entry's index (``number``: the
    value's text, ``%d`` for the index; e.g. ``1.5`` for a float in every member);
    ``nested``: each entry ``{"event_type":"x","data":[{"wide":...}]}`` holds it instead;
    ``scattered``: the names are 8 hex digits in no order (a bijection of the index)."""
    names = _wide_names(members, scattered)
    entries = []
    for index in range(count):
        value = number % index if b"%d" in number else number
        wide = b"{" + b",".join(name + value for name in names) + b"}"
        entries.append(b'{"event_type":"x","data":[{"wide":' + wide + b"}]}" if nested else wide)
    return _with_raw_chain(b",".join(entries))


def wide_entry_of(members: int, values: tuple[bytes, ...]) -> bytes:
    """The v3 sample whose chain is one entry, an object of ``members`` members
    ``"m0","m1",...`` whose values are the JSON texts ``values`` in turn (e.g. floats in
    several literal forms, null, containers)."""
    return _with_raw_chain(b"{" + b",".join(
        b'"m%d":' % index + values[index % len(values)] for index in range(members)) + b"}")


#: Member values for :func:`wide_entry_of`: floats each its own profile text (proven on
#: the bytes), or some not (``1e+16``, ``1.50``: their literals read and mapped), with
#: nulls and containers among them.
WIDE_FLOAT_VALUES: dict[str, tuple[bytes, ...]] = {
    "own profile texts": (b"1.5", b"-0.0", b"null", b"0.25", b'{"x":[2.5,null]}', b"[]"),
    "other texts": (b"1.5", b"1e+16", b"1.50", b"-0.0", b"null", b'{"x":[2.5,1E5]}', b"7"),
}


def colon_decoys(groups: int) -> bytes:
    """The v3 sample whose chain is ``groups`` times a string of 330,000 colons and three
    objects ``{"a":[[],[],...],"i":n}`` of 100,000 empty arrays each. (The strings were
    long enough to hold an object of 2^16 members, the wide objects' threshold when the
    review found them; at 2^17 they are not: the row now measures the search for an
    entry's end among the arrays, which was 16 times the sample's time.)"""
    colons = b'"' + b":" * 330_000 + b'"'
    arrays = b",".join([b"[]"] * 100_000)
    items = []
    for group in range(groups):
        items.append(colons.replace(b":", b"x", 1 + group))
        items.extend(b'{"a":[' + arrays + b'],"i":%d}' % (3 * group + index) for index in range(3))
    return _with_raw_chain(b",".join(items))


def distinct_integer_entries(count: int) -> bytes:
    """The v3 sample whose chain is the integers ``0`` to ``count - 1``."""
    return _with_raw_chain(b",".join(b"%d" % index for index in range(count)))


def _with_raw_chain(items: bytes) -> bytes:
    document = public_v3()
    document["chain"] = []
    return encode(document).replace(b'"chain":[]', b'"chain":[' + items + b"]", 1)


def chain_of(entries: list[Any]) -> bytes:
    """The v3 sample with ``entries`` as its chain (the heads follow its last entry, so
    that only the entries themselves are wrong)."""
    document = public_v3()
    document["chain"] = entries
    last = entries[-1] if entries and isinstance(entries[-1], dict) else {}
    document["chain_head"].update(content_hash=last.get("content_hash"),
                                  sequence=last.get("sequence"), event_count=len(entries))
    if isinstance(last.get("sequence"), int):
        document["project_chain_head"]["sequence"] = last["sequence"] + 1
    return encode(document)


def wrong_type_entries(count: int) -> bytes:
    """``count`` distinct entries whose every member is of the wrong type."""
    return chain_of([
        {"artifact_sequence": str(index), "sequence": [index], "session_id": index,
         "chain_scope": None, "content_hash": index, "previous_content_hash": False,
         "occurred_at": index, "permit_id": index, "event_type": index,
         "canonicalized_payload_hash": index, "payload_materialization": index}
        for index in range(count)
    ])


def repeated_turn_entries(count: int) -> bytes:
    """One turn entry (with its token counts, nothing else an entry needs), ``count`` times."""
    turn = {"event_type": "voice.turn.evaluated", "decision": "allowed", "resource_id": "turn_3",
            "canonicalized_payload": {"input_tokens": 5, "output_tokens": 7,
                                      "risk_budget_used_micros": 11}}
    return chain_of([turn] * count)


def sound_entries(count: int, *, link: Any = None, stated: Any = None) -> list[dict[str, Any]]:
    """``count`` entries like the sample's first, each in its own place (ids, sequences),
    hash-linked from genesis. ``link(index)`` replaces every ``previous_content_hash``
    (the content hashes still recomputed); ``stated(index)`` replaces every
    ``content_hash`` (the next entry still linking to the stated one)."""
    from keel_verify.crypto.canonical import GENESIS_HASH, canonical_hash

    template = public_v3()["chain"][0]
    entries = []
    previous = GENESIS_HASH
    for index in range(count):
        entry = dict(template, artifact_sequence=index + 1, sequence=101 + index,
                     event_id=f"evt_{index}", previous_content_hash=previous)
        if link is not None:
            entry["previous_content_hash"] = link(index)
        entry.pop("content_hash")
        entry["content_hash"] = canonical_hash(entry) if stated is None else stated(index)
        previous = entry["content_hash"]
        entries.append(entry)
    return entries


def broken_link_entries(count: int) -> bytes:
    """Sound entries except that none links to the one before."""
    return chain_of(sound_entries(count, link=lambda index: "sha256:" + f"{index:064x}"))


def bad_content_hash_entries(count: int) -> bytes:
    """Sound entries except that none states its own content hash."""
    return chain_of(sound_entries(count, stated=lambda index: "sha256:" + f"{index:064x}"))


def zeros_member(count: int = 10_000_000) -> bytes:
    """An extra top-level member: an array of ``count`` zeros."""
    document = public_v3()
    document["padding"] = []
    raw = encode(document)
    return raw.replace(b'"padding":[]', b'"padding":[' + b",".join([b"0"] * count) + b"]", 1)


def many_signatures(count: int = 10_000) -> bytes:
    """``count`` signature entries, each but the first naming a different key."""
    return many_signatures_of(public_v3(), count)


def many_signatures_of(document: dict[str, Any], count: int) -> bytes:
    """``document`` with its first signature followed by ``count - 1`` copies, each naming
    a different key (so none of them verifies)."""
    document = copy.deepcopy(document)
    first = document["signatures"][0]
    document["signatures"] = [first] + [
        dict(copy.deepcopy(first), public_key=_key_text(index), key_id=f"k{index}")
        for index in range(count - 1)
    ]
    return encode(document)


def named_key(index: int) -> str:
    """The key the signature entry ``index + 1`` of :func:`many_signatures_of` names."""
    return _key_text(index)


def _key_text(index: int) -> str:
    """A real Ed25519 public key (a valid, non-small-order point), from a fixed seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = hashlib.sha256(b"keel-verify hostile key %d" % index).digest()
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def big_trust_root(count: int = 100_000) -> bytes:
    """A trust root listing ``count`` issuer keys (none of them the sample's)."""
    keys = [{"public_key": _key_text(index + 1_000_000)} for index in range(count)]
    return encode({"trust_root_version": 1, "issuer_keys": keys})


def float_in_every_chunk(count: int = 1_000_000, every: int = 512, *,
                         number: bytes = b"1.5") -> bytes:
    """A chain of ``count`` empty objects, every ``every``-th of them ``{"x":1.5}``: a
    float in every chunk of the chain pass (``number``: another literal in its place)."""
    document = public_v3()
    document["chain"] = []
    raw = encode(document)
    entries = [b'{"x":' + number + b"}" if index % every == 0 else b"{}" for index in range(count)]
    return raw.replace(b'"chain":[]', b'"chain":[' + b",".join(entries) + b"]", 1)


def float_entries(count: int = 1_000_000, *, distinct: bool = False) -> bytes:
    """A chain of ``count`` entries, each the float ``1.5`` (or, with ``distinct``, a
    different float each: ``index + 0.5``)."""
    document = public_v3()
    document["chain"] = []
    raw = encode(document)
    entries = ([b"%d.5" % index for index in range(count)] if distinct else [b"1.5"] * count)
    return raw.replace(b'"chain":[]', b'"chain":[' + b",".join(entries) + b"]", 1)


def float_in_zeros_member(count: int = 10_000_000) -> bytes:
    """An extra top-level member: an array of ``count`` zeros whose last item is ``1.5``."""
    raw = zeros_member(count)
    at = raw.index(b"0]", raw.index(b'"padding":['))
    return raw[:at] + b"1.5]" + raw[at + 2 :]


def v1_float_payloads(count: int = 100_000, *, floats: bool = True) -> bytes:
    """A v1 artifact (payloads embedded) of ``count`` turn entries whose payloads hold
    floats -- legitimate data: latencies, scores -- with every payload hash, content hash
    and link recomputed (only the signature no longer covers it). With ``floats=False``
    the same artifact with integers in their place (its float-free twin)."""
    from keel_verify.crypto.canonical import GENESIS_HASH, canonical_hash
    from tests.helpers import public_v1

    document = public_v1()
    template = document["chain"][-1]
    previous = GENESIS_HASH
    entries = []
    for index in range(count):
        number: Any = (index + 0.25) / 8 if floats else index
        payload = dict(template["canonicalized_payload"], latency_seconds=number,
                       scores={"toxicity": number / 1000 if floats else index, "pii": -0.0
                               if floats else 0, "asr_confidence": [number, 1.0 if floats else 1]})
        entry = dict(template, artifact_sequence=index + 1, sequence=101 + index,
                     event_id=f"evt_{index}", canonicalized_payload=payload,
                     canonicalized_payload_hash=canonical_hash(payload),
                     previous_content_hash=previous)
        entry.pop("content_hash", None)
        entry["content_hash"] = previous = canonical_hash(entry)
        entries.append(entry)
    document["chain"] = entries
    document["chain_head"].update(content_hash=previous, sequence=100 + count, event_count=count)
    document["project_chain_head"]["sequence"] = 101 + count
    return encode(document)


def many_members(count: int = 1_000_000) -> bytes:
    """The v3 sample plus ``count`` extra top-level members ``"k0":0,"k1":0,...``."""
    raw = encode(public_v3())
    extra = b",".join(b'"k%d":0' % index for index in range(count))
    return raw[:-1] + (b"," + extra if count else b"") + b"}"


def deep_entries(count: int = 100_000, depth: int = 100, *, distinct: bool = False) -> bytes:
    """A chain of ``count`` entries, each ``depth`` arrays nested (``[[[...]]]``, or with
    ``distinct`` around the entry's own index): deeper than the typed decoders reach,
    still within the nesting limit when ``depth`` <= 126."""
    document = public_v3()
    document["chain"] = []
    raw = encode(document)
    opened, closed = b"[" * depth, b"]" * depth
    entries = ([opened + b"%d" % index + closed for index in range(count)] if distinct
               else [opened + closed] * count)
    return raw.replace(b'"chain":[]', b'"chain":[' + b",".join(entries) + b"]", 1)


def junk_signatures(count: int = 100_000) -> bytes:
    """The sample's signature followed by ``count`` distinct junk entries: made-up keys
    (hash bytes, not checked to be curve points) and signatures, no purpose, no date."""
    document = public_v3()
    junk = []
    for index in range(count):
        digest = hashlib.sha256(b"junk %d" % index).digest()
        junk.append({"algorithm": "ed25519", "key_id": f"junk-{index}",
                     "public_key": "ed25519:" + base64.b64encode(digest).decode("ascii"),
                     "signature": "ed25519:" + base64.b64encode(digest * 2).decode("ascii")})
    document["signatures"] = document["signatures"] + junk
    return encode(document)


def wide_metadata(count: int = 1_000_000, *, value: bytes = b"0",
                  scattered: bool = False) -> bytes:
    """``session_metadata`` with ``count`` extra keys ``"m0":0,...`` (unsigned-looking
    junk in a signed member: the signature then fails, the cost must stay bounded);
    ``value``: each member's JSON text; ``scattered``: the names are 8 hex digits in no
    order."""
    document = public_v3()
    document["session_metadata"] = {}
    raw = encode(document)
    extra = b",".join(name + value for name in _wide_names(count, scattered))
    return raw.replace(b'"session_metadata":{}', b'"session_metadata":{' + extra + b"}", 1)


def metadata_of_small_arrays(count: int = 1_000_000, item: bytes = b"[%d,%d]") -> bytes:
    """``session_metadata`` holding one extra member: an array of ``count`` small arrays
    (``[[0,1],[2,3],...]`` with small integers; ``item``: another template of two
    integers, e.g. ``{"b":%d,"a":%d}`` for small objects)."""
    document = public_v3()
    document["session_metadata"] = dict(document["session_metadata"], junk=[])
    raw = encode(document)
    items = b",".join(item % (index % 10, index % 7) for index in range(count))
    return raw.replace(b'"junk":[]', b'"junk":[' + items + b"]", 1)


def top_level_zeros(count: int = 10_000_000) -> bytes:
    """A top-level array of ``count`` zeros: not an artifact at all."""
    return b"[" + b",".join([b"0"] * count) + b"]"


def with_escaped_colon(data: bytes) -> bytes:
    """``data`` (compact, as :func:`encode` writes) with ``"n":"a\\u003ab"`` first in its
    session_metadata: an escaped colon, which only the exact reading path judges."""
    marked = data.replace(b'"session_metadata":{', b'"session_metadata":{"n":"a\\u003ab",', 1)
    assert marked != data
    return marked


def escaped_colon_chain(count: int, entry: bytes = b"[]") -> bytes:
    """A chain of ``count`` copies of ``entry`` and one escaped colon: the exact path."""
    return with_escaped_colon(tiny_chain_entries(count, entry))
