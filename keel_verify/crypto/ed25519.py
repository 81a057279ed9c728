"""Strict Ed25519 (RFC 8032 §5.1): public keys that are real keys, signatures with S < L.

OpenSSL (behind ``cryptography``) verifies with the cofactorless equation and loads any 32
bytes as a public key. That leaves two holes this module closes:

* a *small-order* public key (the identity and the other 7 points of order 1, 2, 4 or 8)
  is no key at all: with the identity key, the signature (R = identity, S = 0) verifies
  for ANY message. Such keys are refused in every encoding.
* a *non-canonical* encoding (y >= p, or x = 0 with the sign bit set; RFC 8032 §5.1.3
  steps 1 and 4) names a point under a second spelling; it is refused, as the RFC's
  decoding requires.

A signature is accepted only when its S is below the group order L (RFC 8032 §5.1.7 step
1; refuses the malleable S + L form) and OpenSSL's verification then succeeds.

Decoding a key is split in two, so that a trust root of many keys costs little to load:

* :func:`check_key_encoding`: the checks that need no square root, O(1) per key: the
  length, a canonical y, the sign-bit rule for x = 0, and small order. Every point of
  small order has one of five y values (0, 1, p - 1 and the two y of the points of order
  8), so refusing those y in any spelling refuses all 8 points.
* :func:`decode_public_key`: the above, then whether y has a point on the curve (a square
  root mod p, about 0.1 ms in Python), memoized by key bytes. :func:`verify` runs it.

Typed error: :class:`Ed25519KeyError` (a ``ValueError``) with :attr:`Ed25519KeyError.reason`
one of :data:`NON_CANONICAL`, :data:`NOT_ON_CURVE`, :data:`SMALL_ORDER`, :data:`WRONG_LENGTH`.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl import bindings

#: The field prime p = 2^255 - 19.
P: Final = 2**255 - 19
#: The order L of the prime-order subgroup (RFC 8032 §5.1).
L: Final = 2**252 + 27742317777372353535851937790883648493
#: The curve constant d = -121665/121666 mod p.
D: Final = (-121665 * pow(121666, P - 2, P)) % P
_SQRT_M1: Final = pow(2, (P - 1) // 4, P)

#: How the format writes keys and signatures: ``"ed25519:" + base64``.
ED25519_PREFIX: Final = "ed25519:"
PUBLIC_KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64

WRONG_LENGTH: Final = "wrong-length"
NON_CANONICAL: Final = "non-canonical"
NOT_ON_CURVE: Final = "not-on-curve"
SMALL_ORDER: Final = "small-order"


class Ed25519KeyError(ValueError):
    """32 bytes that are not a usable Ed25519 public key; ``str()`` is a one-line reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_Y_MASK: Final = (1 << 255) - 1
#: y of the points of order 8: (±x8, Y8) and (±x8, p - Y8).
_ORDER_8_Y: Final = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
#: The y of every point of small order: the identity (0, 1), (0, -1) of order 2,
#: (±sqrt(-1), 0) of order 4 and the four points of order 8.
SMALL_ORDER_Y: Final = frozenset({0, 1, P - 1, _ORDER_8_Y, P - _ORDER_8_Y})


def check_key_encoding(raw: bytes) -> None:
    """The checks of RFC 8032 §5.1.3 that need no square root, for a 32-byte public key.

    Raises :class:`Ed25519KeyError` for a wrong length, a non-canonical encoding (y >= p,
    or x = 0 with the sign bit set: x = 0 exactly when y is 1 or p - 1) or a y of a point
    of small order (:data:`SMALL_ORDER_Y`). Whether y has a point on the curve at all is
    left to :func:`decode_public_key`; for bytes that pass here and are on the curve, the
    reasons are those the full decoding gives.
    """
    if len(raw) != PUBLIC_KEY_BYTES:
        raise Ed25519KeyError(WRONG_LENGTH, f"is {len(raw)} bytes, expected {PUBLIC_KEY_BYTES}")
    number = int.from_bytes(raw, "little")
    y = number & _Y_MASK
    if y >= P:
        raise Ed25519KeyError(NON_CANONICAL, "is not a canonical encoding (y >= p, RFC 8032 5.1.3)")
    if y in SMALL_ORDER_Y:
        if number >> 255 and y in (1, P - 1):
            raise Ed25519KeyError(
                NON_CANONICAL, "is not a canonical encoding (x = 0 with the sign bit set, RFC 8032 5.1.3)"
            )
        raise Ed25519KeyError(
            SMALL_ORDER, "has small order (one of the 8 points of order 1, 2, 4 or 8): not a real key"
        )


def decode_point(raw: bytes) -> tuple[int, int]:
    """RFC 8032 §5.1.3: the affine point (x, y) that ``raw`` (32 bytes) encodes.

    Raises :class:`Ed25519KeyError` for a wrong length, a non-canonical encoding (y >= p,
    or x = 0 with the sign bit set) or a y with no point on the curve. Does not judge the
    point's order (see :func:`decode_public_key`).
    """
    if len(raw) != PUBLIC_KEY_BYTES:
        raise Ed25519KeyError(WRONG_LENGTH, f"is {len(raw)} bytes, expected {PUBLIC_KEY_BYTES}")
    number = int.from_bytes(raw, "little")
    sign = number >> 255
    y = number & ((1 << 255) - 1)
    if y >= P:
        raise Ed25519KeyError(NON_CANONICAL, "is not a canonical encoding (y >= p, RFC 8032 5.1.3)")
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    check = (v * x * x) % P
    if check == (-u) % P:
        x = (x * _SQRT_M1) % P
    elif check != u:
        raise Ed25519KeyError(NOT_ON_CURVE, "is not a point on the Ed25519 curve")
    if x == 0 and sign == 1:
        raise Ed25519KeyError(
            NON_CANONICAL, "is not a canonical encoding (x = 0 with the sign bit set, RFC 8032 5.1.3)"
        )
    if x & 1 != sign:
        x = P - x
    return x, y


def _double(point: tuple[int, int, int]) -> tuple[int, int, int]:
    # Projective doubling on the twisted Edwards curve with a = -1 (RFC 8032 5.1.4, without
    # T): complete for Ed25519, and no modular inversion.
    x, y, z = point
    a, b = x * x % P, y * y % P
    c = 2 * z * z % P
    h = (a + b) % P
    e = (h - (x + y) * (x + y)) % P
    g = (a - b) % P
    f = (c + g) % P
    return e * f % P, g * h % P, f * g % P


def has_small_order(point: tuple[int, int]) -> bool:
    """True when [8]point is the identity: the 8 points of order 1, 2, 4 or 8. (The
    definition; keys are judged by their y, :data:`SMALL_ORDER_Y`, which the tests prove
    equal to it.)"""
    doubled = (point[0], point[1], 1)
    for _ in range(3):
        doubled = _double(doubled)
    x, y, z = doubled
    return x == 0 and y == z


def decode_public_key(raw: bytes) -> Ed25519PublicKey:
    """The strictly decoded public key of ``raw`` (32 bytes, RFC 8032 §5.1.5 encoding).

    Raises :class:`Ed25519KeyError` for a wrong length, a non-canonical encoding, a point
    of small order (the identity and the other 7; :func:`check_key_encoding`) or a y with
    no point on the curve (:func:`decode_point`). Memoized by key bytes, failures
    included: each key costs its square root once.
    """
    decoded = decode_key_once(bytes(raw))
    if isinstance(decoded, tuple):
        raise Ed25519KeyError(*decoded)
    return decoded


@lru_cache(maxsize=1024)
def decode_key_once(raw: bytes) -> Ed25519PublicKey | tuple[str, str]:
    """:func:`decode_public_key`'s memo: the key, or the (reason, message) of its fault."""
    try:
        check_key_encoding(raw)
        decode_point(raw)  # the square root: is y on the curve?
    except Ed25519KeyError as error:
        return error.reason, str(error)
    return Ed25519PublicKey.from_public_bytes(raw)


def signature_scalar_in_range(signature: bytes) -> bool:
    """RFC 8032 §5.1.7 step 1: the signature's S (its last 32 bytes) is below L."""
    return len(signature) == SIGNATURE_BYTES and int.from_bytes(signature[32:], "little") < L


def verify(public_key: bytes, signature: bytes, message: bytes | bytearray | memoryview) -> bool:
    """True only when ``signature`` (64 bytes) is a valid Ed25519 signature of ``message``
    by ``public_key`` (32 bytes), the key decodes strictly (:func:`decode_public_key`) and
    S < L. Never raises for malformed input: a bad key or signature is simply not valid.
    """
    if not signature_scalar_in_range(signature):
        return False
    try:
        key = decode_public_key(bytes(public_key))
    except Ed25519KeyError:
        return False
    try:
        key.verify(bytes(signature), message)
    except InvalidSignature:
        return False
    return True


# -- verification from SHA-512(R || A || M), for a message that streams by ------------------

#: The encoding of the identity point (x = 0, y = 1).
IDENTITY: Final = b"\x01" + bytes(31)
#: 8^-1 mod L: [8^-1]([8]A) is the prime-order part of A.
_INVERSE_OF_8: Final = pow(8, -1, L).to_bytes(32, "little")


class Prehash:
    """``SHA-512(R || A || M)`` for one (signature, public key) pair, with the message M
    fed in pieces as it is produced (RFC 8032 §5.1.7 step 2), so that M is never held."""

    def __init__(self, public_key: bytes, signature: bytes) -> None:
        self.public_key = bytes(public_key)
        self.signature = bytes(signature)
        self._sha512 = hashlib.sha512(self.signature[:32] + self.public_key)

    def update(self, piece: bytes | bytearray | memoryview) -> None:
        self._sha512.update(piece)

    def verify(self) -> bool:
        """:func:`verify` of the pair over the whole message fed so far: the same answer."""
        return self.verify_signature(self.signature)

    def verify_signature(self, signature: bytes) -> bool:
        """As :meth:`verify`, for any signature with the same R (the digest's first input)."""
        if bytes(signature[:32]) != self.signature[:32]:
            raise ValueError("the signature's R is not the one hashed")
        return verify_prehashed(self.public_key, signature, self._sha512.digest())


def verify_prehashed(public_key: bytes, signature: bytes, digest: bytes) -> bool:
    """True exactly when :func:`verify` is, given ``digest`` = SHA-512(R || A || M).

    The same strict checks (key decoding, S < L), then the cofactorless equation OpenSSL
    checks, [S]B - [k]A == R with k = digest mod L, compared as canonical encodings
    (RFC 8032 §5.1.7 step 3). The group operations are libsodium's (PyNaCl bindings):
    scalar reduction, scalar multiplication without clamping, point subtraction.
    """
    if not signature_scalar_in_range(signature):
        return False
    try:
        decode_public_key(bytes(public_key))
    except Ed25519KeyError:
        return False
    k = bindings.crypto_core_ed25519_scalar_reduce(digest)
    s = bytes(signature[32:])
    s_b = bindings.crypto_scalarmult_ed25519_base_noclamp(s) if any(s) else IDENTITY
    r_check = bindings.crypto_core_ed25519_sub(s_b, _multiply(k, bytes(public_key)))
    return hmac.compare_digest(r_check, bytes(signature[:32]))


def _multiply(scalar: bytes, point: bytes) -> bytes:
    """[scalar]point for a strictly decoded key (any point of the curve but the 8 of small
    order). libsodium multiplies only points of the prime-order subgroup; a key with a
    torsion part T (A = P + T) is split: P = [8^-1]([8]A), [k]A = [k]P + [k mod 8]T."""
    if not any(scalar):
        return IDENTITY
    try:
        return bytes(bindings.crypto_scalarmult_ed25519_noclamp(scalar, point))
    except RuntimeError:  # not in the prime-order subgroup (or [k]A is the identity)
        pass
    add = bindings.crypto_core_ed25519_add
    eightfold = point
    for _ in range(3):
        eightfold = add(eightfold, eightfold)
    prime_part = bindings.crypto_scalarmult_ed25519_noclamp(_INVERSE_OF_8, eightfold)
    torsion = bindings.crypto_core_ed25519_sub(point, prime_part)
    try:
        product = bindings.crypto_scalarmult_ed25519_noclamp(scalar, prime_part)
    except RuntimeError:  # scalar = 0 mod L: [k]P is the identity
        product = IDENTITY
    for _ in range(int.from_bytes(scalar, "little") % 8):
        product = add(product, torsion)
    return bytes(product)
