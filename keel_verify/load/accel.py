"""Optional native accelerators, each with an exact pure-Python fallback.

* msgspec decodes and encodes JSON in C. Its sorted, compact encoding equals the
  canonical profile (:mod:`keel_verify.crypto.canonical`) on float-free values -- proved by a
  hypothesis test. Its own float text is not the profile's (``1e16`` for ``1e+16``), so
  a part that holds a float is read twice at C speed (:func:`read_floats`): once for its
  values, each float read by :func:`finite_float` as the strict parser reads it, and
  once as a *twin* in which each float is a ``msgspec.Raw`` holding the profile's text
  of it, which the same sorted encoder writes as it is. Anything msgspec rejects or
  cannot represent exactly sends the input down the strict stdlib path, which also
  words every error message.
* jsonschema-rs validates JSON Schema (Draft 2020-12) in Rust, about 200x faster than
  jsonschema per chain entry; jsonschema still words the errors.

Set ``KEEL_VERIFY_PURE=1`` to use only the fallbacks (the test suite runs both paths).
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple, Union

from keel_verify.crypto.canonical import JCS_MAX_SAFE_INTEGER, float_text
from keel_verify.load import nesting

try:
    import msgspec
    from msgspec import Raw
except ImportError:  # pragma: no cover - exercised by installing without msgspec
    msgspec = None  # type: ignore[assignment]

try:
    import jsonschema_rs
except ImportError:  # pragma: no cover
    jsonschema_rs = None  # type: ignore[assignment]


def pure_requested() -> bool:
    return os.environ.get("KEEL_VERIFY_PURE", "") not in ("", "0")


def fast_json_available() -> bool:
    return msgspec is not None and not pure_requested()


def fast_schema_available() -> bool:
    return jsonschema_rs is not None and not pure_requested()


class FloatSeen(Exception):
    """A float was decoded: the fast encoder's float text is not the profile's."""


def _refuse_float(_literal: str) -> Any:
    raise FloatSeen


class FloatOverflow(ValueError):
    """A float literal beyond the range of a double (msgspec reports it as a
    ValidationError, one of :func:`decode_errors`)."""


_INFINITIES = (math.inf, -math.inf)


def finite_float(literal: str) -> float:
    """The value of a JSON float literal as the strict parser reads it: Python's
    correctly rounded ``float(literal)``; FloatOverflow when that is infinite."""
    number = float(literal)
    if number in _INFINITIES:
        raise FloatOverflow(literal)
    return number


class _ProfileTexts:
    """The twin's float hook: each float, read as :func:`finite_float` reads it (an
    overflow refused here), as msgspec.Raw of its profile text; counted. Inlined to one
    frame per float: this is most of what a float costs the fast path."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, literal: str) -> Any:
        self.count += 1
        number = float(literal)
        if number in _INFINITIES:
            raise FloatOverflow(literal)
        return Raw(float_text(number))


class FloatPart(NamedTuple):
    """A part of the input read by :func:`read_floats`."""

    value: Any  # floats as float() reads them (the twin's reading refuses an overflow)
    # The same value, each float a msgspec.Raw of its profile text: what the sorted encoder
    # writes as the profile does, and unequal to the float, so that a subtree equals its
    # twin exactly where it holds no float. None when the value holds no float.
    twin: Any
    floats: int  # how many floats it holds


# A float literal that is its own profile text (see own_profile_texts), one a line:
# an optional sign, then "0.0"; or "0." + at most three zeros + at most 15 significant
# digits, the last not 0; or an integer part without a leading zero + "." + ("0" or
# digits ending in a nonzero one), at most 16 characters besides the sign.
_OWN_PROFILE_TEXT = (r"-?(?:[1-9](?=[0-9.]{2,15}\n)[0-9]*\.(?:0|[0-9]*[1-9])"
                     r"|0\.(?:0|0{0,3}[1-9](?:[0-9]{0,13}[1-9])?))")
_OWN_PROFILE_TEXT_LINES = re.compile(rf"(?:{_OWN_PROFILE_TEXT}\n)*+")
# The numbers of a JSON text without strings, exponents or letters (see
# own_profile_texts_outside_strings), each on a line of its own, lines between them
# empty: each line a float literal in the form above or an integer (its digits not
# followed by a "."). Floats first: a part read this way is dense in them.
_NUMBER_LINES = re.compile(
    rb"\n*+(?:(?:" + _OWN_PROFILE_TEXT.encode() + rb"|-?[0-9]++(?![.0-9]))\n++)*+")
# Every byte but those of a number without an exponent becomes a line break.
_NUMBERS_ON_LINES = bytes(byte if byte in b"-0123456789." else 0x0A for byte in range(256))


def own_profile_texts(literals: list[str]) -> bool:
    """True when each JSON float literal in ``literals`` is proven to be its own profile
    text: ``float_text(float(literal)) == literal``. False means "not proven" (also for
    an empty list).

    The proof, for each literal in the form of ``_OWN_PROFILE_TEXT_LINES`` (checked for
    all at once by one regular expression over their lines). ``0.0`` and ``-0.0`` are
    ``repr``'s texts of 0.0 and -0.0. Any other has n <= 15 significant digits D (no
    leading zero, the last nonzero: the "0" of ``I.0`` is not one) and a decimal point
    position decpt (|value| = 0.D x 10^decpt) in -3..14, so ``float`` rounds it correctly
    to a normal double d. As 10^15 < 2^52 (DBL_DIG is 15), rounding d to 15 significant
    digits gives back every decimal of at most 15 digits that reads as d, so the literal
    is the only such decimal. ``repr`` (CPython's ``sys.float_repr_style == "short"``:
    format_float_short, mode 0) takes the shortest digits that read back as d: at most
    n of them, so D itself. As -4 < decpt <= 16 it writes them in fixed notation: the
    sign, then "0." + (-decpt) zeros + D when decpt <= 0, else D with the point after
    decpt digits, padded with zeros up to it and with ".0" added when it falls at the
    end: the literal, character for character. Such a literal never overflows."""
    if not literals or sys.float_repr_style != "short":
        return False
    return _OWN_PROFILE_TEXT_LINES.fullmatch("\n".join(literals) + "\n") is not None


def own_profile_texts_outside_strings(outside: bytes) -> int:
    """How many float literals the JSON text whose parts outside strings are ``outside``
    (:func:`keel_verify.load.nesting.outside_strings`) holds, when each is proven its own
    profile text as :func:`own_profile_texts` proves it, read on the bytes, without a
    decode; 0 means "not proven" (also when it holds no float).

    Why, on the bytes: outside strings, the letters are those of ``true``, ``false`` and
    ``null`` and of exponents, so when there is no ``E`` and no more ``e`` than one for
    each ``true`` and ``false`` (one each), no number has an exponent; each number is
    then ``-?int`` or ``-?int.frac`` (RFC 8259 section 6), a run of ``-``, digits and
    ``.`` between bytes that are none of these (the decoder accepted the text, and a
    number is never next to another without one). Each such run, put on a line of its
    own, is an integer or a float literal in ``_OWN_PROFILE_TEXT_LINES``'s form (one
    regular expression over all of them, in C); each float literal holds one ``.``."""
    if (not outside or sys.float_repr_style != "short" or b"E" in outside
            or outside.count(b"e") != outside.count(b"true") + outside.count(b"false")):
        return 0
    floats = outside.count(b".")
    if not floats:
        return 0
    on_lines = outside.translate(_NUMBERS_ON_LINES) + b"\n"
    return floats if _NUMBER_LINES.fullmatch(on_lines) is not None else 0


def profile_texts_of(literals: list[str]) -> Callable[[str], Any] | None:
    """A float hook giving what :class:`_ProfileTexts` gives for each of ``literals``:
    msgspec.Raw of ``float_text(float(literal))``, found in a dict (a C call a float, no
    Python frame), built by C maps over the literals. None when one overflows: the hook
    itself refuses it (msgspec words that refusal)."""
    numbers = list(map(float, literals))
    if math.inf in numbers or -math.inf in numbers:
        return None
    texts: dict[str, Any] = dict(zip(literals, map(Raw, map(float_text, numbers)), strict=True))
    return texts.__getitem__


def literals_repeat(outside: bytes) -> bool:
    """Whether the numbers without exponents among the first DENSITY_SAMPLE bytes of
    ``outside`` (a JSON text's parts outside strings) are mostly repeats: at most half of
    them distinct. Only a choice between two exact ways of reading a twin (see
    :func:`decoder`, "shared_raw_floats")."""
    numbers = outside[:DENSITY_SAMPLE].translate(_NUMBERS_ON_LINES).split()
    return len(set(numbers)) * 2 <= len(numbers)


# A part whose first DENSITY_SAMPLE bytes hold fewer "." than one for this many bytes
# takes the twin's hook, not a third reading: the literals' reading costs about a decode
# of the whole part, repaid by some 300 ns for each float it spares the hook. Only a
# choice between two exact ways: a sample (counting all would cost ~0.3 ns a byte).
BYTES_PER_FLOAT_FOR_LITERALS = 48
DENSITY_SAMPLE = 4096
# At most this many float literals of one part are mapped to their texts in a dict
# (transient memory, some 200 bytes each); a part holding more takes the hook.
LITERALS_MAPPED = 1 << 16
# The most distinct literals whose Raw is kept for sharing by the "shared_raw_floats"
# decoder (a few hundred KiB).
LITERALS_SHARED = 1024
# A part of fewer bytes is not looked at for repeats: its Raws cost little memory.
SHARED_FROM_BYTES = 1 << 16


def read_floats(data: Any, outside: bytes | None = None) -> FloatPart:
    """Decode one JSON value at C speed, floats and all, to the strict parser's values.
    Untyped: the caller proves depth (:mod:`keel_verify.load.nesting`). When it may hold
    a float (:func:`keel_verify.load.nesting.float_free`) it is decoded a second time, as
    its twin. Raises one of :func:`decode_errors` for what msgspec refuses (an
    overflowing float included). ``outside``: ``data``'s parts outside strings
    (:func:`keel_verify.load.nesting.outside_strings`) when the caller has them.

    A part dense in floats whose literals :func:`own_profile_texts_outside_strings`
    proves, on its bytes, each its own profile text has its twin decoded with
    ``float_hook=msgspec.Raw`` (the literal itself). Otherwise such a part is first read
    a third time, in C, for its float literals (``float_hook=list.append``: one C call a
    float, the values thrown away). When :func:`own_profile_texts` proves each its own
    profile text, the twin is decoded as above; otherwise with the dict of their texts
    (:func:`profile_texts_of`). Any other part's twin (sparse in floats, very many of
    them, or one overflowing) is decoded with the hook :class:`_ProfileTexts`, a Python
    frame a float."""
    assert msgspec is not None
    # The values' floats are read by float() itself, in C (no frame per float); the twin's
    # reading refuses an overflow (a literal proven its own profile text is finite).
    # Every float literal has a digit followed by ".", "e" or "E", so a text the scan
    # finds float-free holds none, and any other is decoded as a twin: no overflow goes
    # unseen.
    value = decoder("floats").decode(data)
    text = bytes(data)
    if nesting.float_free(text):
        return FloatPart(value, None, 0)
    sample = min(len(text), DENSITY_SAMPLE)
    if text.count(b".", 0, sample) * BYTES_PER_FLOAT_FOR_LITERALS >= sample:
        if outside is None:
            outside = nesting.outside_strings(text)
        count = own_profile_texts_outside_strings(outside)
        kind = ("shared_raw_floats" if count and len(text) >= SHARED_FROM_BYTES
                and literals_repeat(outside) else "raw_floats")
        if count:
            return FloatPart(value, decoder(kind).decode(data), count)
        literals: list[str] = []
        msgspec.json.Decoder(float_hook=literals.append).decode(data)
        count = len(literals)
        if not count:
            return FloatPart(value, None, 0)
        if own_profile_texts(literals):
            del literals  # the twin's Raws hold texts of their own
            return FloatPart(value, decoder("raw_floats").decode(data), count)
        hook = profile_texts_of(literals) if count <= LITERALS_MAPPED else None
        del literals
        if hook is not None:
            return FloatPart(value, msgspec.json.Decoder(float_hook=hook).decode(data), count)
    texts = _ProfileTexts()
    twin = msgspec.json.Decoder(float_hook=texts).decode(data)
    return FloatPart(value, twin if texts.count else None, texts.count)


_decoders: dict[str, Any] = {}


def decoder(kind: str) -> Any:
    """msgspec decoders, built once: "any" (floats refused), "floats" (floats read by
    ``float``, overflow unchecked: see :func:`read_floats`), "raw_floats" (each float a
    msgspec.Raw of its literal: a twin once :func:`own_profile_texts` proves them),
    "shared_raw_floats" (the same, one Raw shared by the repeats of a literal among the
    last LITERALS_SHARED distinct ones: a C cache, no Python frame; some 60 ns more a
    float when they do not repeat, some 100 bytes less each when they do),
    "members" (object of raw values), "items" (array of raw values), "raw" (one value, as
    a raw slice: validated, not decoded), "chain_member" (only
    an object's "chain" member, as a raw slice, UNSET when absent), "flat_entries"
    (objects of strings, null, booleans and JCS-safe integers only)."""
    if kind not in _decoders:
        assert msgspec is not None
        jcs_int = Annotated[int, msgspec.Meta(ge=-JCS_MAX_SAFE_INTEGER, le=JCS_MAX_SAFE_INTEGER)]
        flat_value = Union[jcs_int, str, None, bool]  # noqa: UP007 - a runtime type for msgspec
        types: dict[str, Any] = {
            "any": Any,
            "floats": Any,
            "raw_floats": Any,
            "shared_raw_floats": Any,
            "members": dict[str, msgspec.Raw],
            "items": list[msgspec.Raw],
            "raw": msgspec.Raw,
            "chain_member": _ChainMember,
            "flat_entries": list[dict[str, flat_value]],
        }
        hooks: dict[str, Callable[[str], Any]] = {
            "floats": float, "raw_floats": Raw,
            "shared_raw_floats": functools.lru_cache(LITERALS_SHARED)(Raw)}
        hook = hooks.get(kind, _refuse_float)
        _decoders[kind] = msgspec.json.Decoder(types[kind], float_hook=hook)
    return _decoders[kind]


if msgspec is not None:
    UNSET: Any = msgspec.UNSET

    class _ChainMember(msgspec.Struct):
        """An object's "chain" member as a raw slice (UNSET when absent); every other
        member is skipped, not decoded."""

        chain: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


#: Container levels below an entry's own members that the typed entry decoder accepts.
#: Each level doubles the size of the type, so the bound stays small; deeper entries are
#: decoded untyped and walked.
MAX_TYPED_NESTING = 6


def _typed_value(levels: int) -> Any:
    assert msgspec is not None
    jcs_int = Annotated[int, msgspec.Meta(ge=-JCS_MAX_SAFE_INTEGER, le=JCS_MAX_SAFE_INTEGER)]
    value: Any = Union[jcs_int, str, None, bool]  # noqa: UP007 - a runtime type for msgspec
    for _ in range(levels):
        value = Union[jcs_int, str, None, bool, list[value], dict[str, value]]  # noqa: UP007
    return value


def nested_value_decoder(levels: int) -> Any:
    """A msgspec decoder for one JSON value whose containers nest at most ``levels`` deep
    and whose integers are JCS-safe (see :func:`nested_entries_decoder`)."""
    kind = f"nested_value_{levels}"
    if kind not in _decoders:
        assert msgspec is not None
        _decoders[kind] = msgspec.json.Decoder(_typed_value(levels), float_hook=_refuse_float)
    return _decoders[kind]


def whole_document_decoder(levels: int) -> Any:
    """A msgspec decoder for a JSON object whose member values are as
    :func:`nested_items_decoder` takes its items (containers at most ``levels`` deep,
    counting the value itself; JCS-safe integers; no float)."""
    kind = f"whole_document_{levels}"
    if kind not in _decoders:
        assert msgspec is not None
        _decoders[kind] = msgspec.json.Decoder(dict[str, _typed_value(levels)],  # type: ignore[misc]
                                               float_hook=_refuse_float)
    return _decoders[kind]


def nested_entries_decoder(levels: int) -> Any:
    """A msgspec decoder for a JSON array of objects whose values are JCS-safe integers,
    strings, booleans, nulls, or arrays and objects of those, nested at most ``levels``
    deep below the entry's members. A successful decode thus proves, at C speed, what
    the loader would otherwise walk every node for: no float, no integer beyond
    +/-(2^53-1), and a bounded depth."""
    kind = f"nested_entries_{levels}"
    if kind not in _decoders:
        assert msgspec is not None
        value = _typed_value(levels)
        _decoders[kind] = msgspec.json.Decoder(list[dict[str, value]],  # type: ignore[valid-type]
                                               float_hook=_refuse_float)
    return _decoders[kind]


def nested_items_decoder(levels: int) -> Any:
    """A msgspec decoder for a JSON array of any values -- JCS-safe integers, strings,
    booleans, nulls, or arrays and objects of those -- whose containers nest at most
    ``levels`` deep, counting the item itself. For chain entries that are not all objects
    (a hostile chain): it proves what :func:`nested_entries_decoder` proves for objects."""
    kind = f"nested_items_{levels}"
    if kind not in _decoders:
        assert msgspec is not None
        _decoders[kind] = msgspec.json.Decoder(list[_typed_value(levels)],  # type: ignore[misc]
                                               float_hook=_refuse_float)
    return _decoders[kind]


_encoder: Any = None


def sorted_encoder() -> Callable[[Any], bytes]:
    """msgspec's sorted encoder's ``encode`` (a C function: mapping it costs no frames)."""
    global _encoder
    if _encoder is None:
        assert msgspec is not None
        _encoder = msgspec.json.Encoder(order="sorted")
    encode: Callable[[Any], bytes] = _encoder.encode
    return encode


_plain_encoder: Any = None


def plain_encoder() -> Callable[[Any], bytes]:
    """msgspec's encoder in insertion order: not canonical by itself (for telling values
    apart by their members' order and types, e.g. ``1`` from ``true``), but the members
    of an object of scalars it writes are cut and sorted into canonical bytes
    (:mod:`keel_verify.load.member_sort`)."""
    global _plain_encoder
    if _plain_encoder is None:
        assert msgspec is not None
        _plain_encoder = msgspec.json.Encoder()
    encode: Callable[[Any], bytes] = _plain_encoder.encode
    return encode


def encode_sorted(value: Any) -> bytes:
    """Canonical bytes of a float-free value or of a twin (:func:`read_floats`): msgspec,
    keys sorted by code point, a msgspec.Raw written as it is."""
    return sorted_encoder()(value)


def schema_validator(schema: dict[str, Any]) -> Any:
    """A compiled jsonschema-rs validator (only when :func:`fast_schema_available`)."""
    assert jsonschema_rs is not None
    return jsonschema_rs.validator_for(schema)


_proven_validators: dict[int, Any] = {}


def proven_valid(schema: dict[str, Any], instance: Any) -> bool:
    """True when jsonschema-rs proves ``instance`` valid; False means "not proven" (invalid,
    unavailable, or a value it cannot take), and the caller asks jsonschema, which also
    words the errors. This keeps jsonschema's costly import off the common path."""
    if not fast_schema_available():
        return False
    try:
        validator = _proven_validators.get(id(schema))
        if validator is None:
            validator = _proven_validators[id(schema)] = schema_validator(schema)
        return bool(validator.is_valid(instance))
    except Exception:
        return False


_ASTRAL_LEAD_BYTES = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


# The rest of a string from a character outside the BMP, then a colon: the string was a
# key. The scan stops at the next such character (a four-byte UTF-8 lead byte, or a
# high-surrogate escape that pairs into one), so no byte is scanned twice from real
# starts. A match may also start inside a ``\\\\`` escape: a false alarm, after which
# the caller looks; but every real key holding such a character matches.
_REST_OF_KEY = (rb'[^"\\\xf0-\xf4]*+(?:(?:\\[^u]|\\u(?![dD][89abAB]))[^"\\\xf0-\xf4]*+)*+'
                rb'"[ \t\n\r]*:')
_ASTRAL_KEY_FROM_LEAD = re.compile(rb"[\xf0-\xf4]" + _REST_OF_KEY)
_ASTRAL_KEY_FROM_ESCAPE = re.compile(rb"\\u[dD][89abAB]" + _REST_OF_KEY)


def keys_within_bmp(data: bytes) -> bool:
    """True when no object key in the valid UTF-8 JSON text ``data`` holds a character
    outside the Basic Multilingual Plane (where RFC 8785 sorts keys as the profile
    does). False means "not proven". Linear: each such character is looked at once,
    from a memchr-fast find."""
    if b"\\" in data and _ASTRAL_KEY_FROM_ESCAPE.search(data) is not None:
        return False
    match = _ASTRAL_KEY_FROM_LEAD.match
    for lead in _ASTRAL_LEAD_BYTES:
        at = data.find(lead)
        while at >= 0:
            if match(data, at) is not None:
                return False
            at = data.find(lead, at + 1)
    return True


def decode_errors() -> tuple[type[Exception], ...]:
    """What a msgspec decode raises for input it will not take."""
    assert msgspec is not None
    return (msgspec.DecodeError, msgspec.ValidationError, FloatSeen, RecursionError,
            UnicodeDecodeError, ValueError)
