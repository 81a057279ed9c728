"""Issuer keys: the public TEST seeds, and key files written by ``keel-emit keygen``.

The demo key and the demo TSA are derived from the public constants below. They are TEST
keys: anyone can derive them, so they protect nothing. Never trust them in production.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from keel_verify.emit.errors import UNPROCESSABLE, EmitError
from keel_verify.emit.signing import ed25519_key_from_seed

#: Seed of the sample/demo issuer key (PUBLIC: a TEST key, protects nothing).
DEMO_ISSUER_SEED = b"keel-emit PUBLIC TEST issuer key seed v1"
#: Seed of the sample/demo RFC 3161 test TSA (PUBLIC: a TEST key, protects nothing).
DEMO_TSA_SEED = b"keel-emit PUBLIC TEST TSA seed v1"
#: Seed of the demo scenario's identifiers.
DEMO_SCENARIO_SEED = "keel-emit demo"


def demo_issuer_key() -> Ed25519PrivateKey:
    return ed25519_key_from_seed(DEMO_ISSUER_SEED)


def generate_key_pem() -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return key, pem


def write_private_key(path: Path, pem: bytes) -> None:
    """Create ``path`` readable by its owner only; refuse to replace an existing key."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise EmitError(UNPROCESSABLE, f"{path}: already exists; not overwriting a key") from None
    except OSError as error:
        raise EmitError(UNPROCESSABLE, f"{path}: cannot create: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EmitError(UNPROCESSABLE, f"{path}: cannot read issuer key: {error.strerror}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise EmitError(
            UNPROCESSABLE, f"{path}: not an unencrypted PEM private key (see keel-emit keygen)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EmitError(UNPROCESSABLE, f"{path}: not an Ed25519 private key")
    return key
