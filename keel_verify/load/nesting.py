"""Proofs about JSON text made on its bytes at C speed, for parts the typed decoders do not
reach (containers nested deeper than :data:`keel_verify.load.accel.MAX_TYPED_NESTING`, or
holding floats): the container depth, whether every integer lies within +/-(2^53-1), and
whether the text holds no float at all.

Each takes text that a JSON decoder has already accepted (valid UTF-8 JSON), and each
costs a few passes of C over the bytes plus, at worst, one small step per bracket; none
makes a Python step per node.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate
from operator import add, sub

from keel_verify.crypto.canonical import JCS_MAX_SAFE_INTEGER

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in _BRACKETS)
# Opening brackets become +1, closing ones -1 (as signed bytes).
_AS_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_RUN = re.compile(rb"\x01+|\xff+")
_PEAK = b"\x01\xff"  # an opening bracket closed at once: an innermost container


def outside_strings(text: bytes) -> bytes:
    """``text`` with every string's content and quotes removed. In JSON a backslash only
    occurs inside a string, and a run of backslashes pairs up from its start; so removing
    the escaped backslashes first leaves every remaining ``\\"`` an escaped quote, and
    once those are gone every quote opens or closes a string: the even pieces between
    quotes are what lies outside strings."""
    if b'"' not in text:
        return text
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(text.split(b'"')[::2])


def max_nesting(text: bytes) -> int:
    """The deepest container nesting in the JSON text ``text`` (0 for a scalar, 1 for
    ``[]``, 2 for ``[[]]``; arrays and objects alike)."""
    steps = outside_strings(text).translate(_AS_STEPS, _NOT_BRACKETS)
    if not steps:
        return 0
    # Each innermost container is one peak; between peaks the runs of openings and of
    # closings alternate. Few peaks for many brackets (deep nesting): one step per run.
    if steps.count(_PEAK) * 16 > len(steps):
        return max(accumulate(array("b", steps)))  # one step per bracket
    # Runs alternate, openings first (the text is balanced): the depth peaks at the end
    # of each run of openings, at the depth before it plus its length.
    lengths = list(map(len, _RUN.findall(steps)))
    opened, closed = lengths[0::2], lengths[1::2]
    before = accumulate(map(sub, opened, closed), initial=0)
    return int(max(map(add, before, opened)))


# 2^53 - 1 = 9007199254740991 has 16 digits: an integer written with at most 15 digits
# is inside +/-(2^53-1), and one of 16 is when its digits say so. Digits in a string or
# a fraction count too: that only costs a proof, never makes a wrong one.
_LONG_DIGITS = re.compile(rb"[0-9]{16,}")
_DIGITS_AS_ZERO = bytes.maketrans(bytes(range(256)),
                                  bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256)))
# Digits to "d", the bytes that may follow a float's digits ("." "e" "E") to ".", every
# other byte to a space (see float_free).
_NUMBER_MARKS = bytes(
    0x64 if 0x30 <= byte <= 0x39 else 0x2E if byte in b".eE" else 0x20 for byte in range(256))


def integers_within_jcs(text: bytes) -> bool:
    """True when no integer in the JSON text ``text`` can lie beyond +/-(2^53-1) (no run
    of digits longer than 16 anywhere in it, and every run of 16 at most 2^53-1). False
    means "not proven"."""
    if b"0" * 16 not in text.translate(_DIGITS_AS_ZERO):  # most texts: two passes of C
        return True
    runs = _LONG_DIGITS.findall(text)
    return not runs or (max(map(len, runs)) == 16 and max(map(int, runs)) <= JCS_MAX_SAFE_INTEGER)


def float_free(text: bytes) -> bool:
    """True when the JSON text ``text`` holds no float: a float literal always has a
    digit followed by ".", "e" or "E" (RFC 8259 section 6: an integer part, then a
    fraction or an exponent), and no such pair occurs in ``text`` (strings included, so
    False means "not proven")."""
    return b"d." not in text.translate(_NUMBER_MARKS)


def float_free_outside_strings(outside: bytes) -> bool:
    """:func:`float_free` for the parts of a JSON text outside its strings (``outside``,
    from :func:`outside_strings`), in scans for single bytes: there "." and "E" occur
    only in a float literal, and "e" only in one or in a literal ``true`` or ``false``
    (one "e" each), so the text holds no float when it holds no "." and no "E", and no
    more "e" than its ``true`` and ``false``. False means "not proven"."""
    if b"." in outside or b"E" in outside:
        return False
    return b"e" not in outside or (
        outside.count(b"e") == outside.count(b"true") + outside.count(b"false"))


def holds_float_without_strings(text: bytes) -> bool:
    """True when the JSON text ``text`` is proven to hold a float: it holds no string
    (no ``"``), so its only letters are those of ``true``, ``false``, ``null`` and of
    exponents, and its only ``.`` a fraction's: a ``.`` or an ``E`` is then a float's
    (RFC 8259 section 6). False means "not proven" (a string, or only ``e`` exponents).
    Three memchr-fast scans; no copy."""
    return b'"' not in text and (b"." in text or b"E" in text)


_JSON_WHITESPACE = b" \t\n\r"


def written_canonically(text: bytes, outside: bytes) -> bool:
    """True when the JSON text ``text`` (whose parts outside strings are ``outside``, from
    :func:`outside_strings`) is proven to be, byte for byte, what an RFC 8785 encoder
    writes for its value, provided its integers lie within +/-(2^53-1)
    (:func:`integers_within_jcs`). False means "not proven".

    Conservative: no object (no member order to prove), no backslash (RFC 8785 writes a
    string's characters as they are but for ``"``, ``\\`` and controls, which JSON text
    must escape anyway), no whitespace outside strings, no float (:func:`float_free`)
    and no ``-0`` (written ``0``); what remains are literals, integers without leading
    zeros (JSON allows none) and brackets, all written as they are."""
    return (b"{" not in outside and b"\\" not in text
            and (b"-" not in outside or b"-0" not in outside)  # "-": one byte, a faster scan
            and not any(space in outside for space in _JSON_WHITESPACE)
            and float_free_outside_strings(outside))
