"""What a voice sidecar signs, and how keel-emit checks it (RFC 8032 Ed25519).

The signed bytes of an atom (or of an interruption-events body) are the canonical bytes
(:mod:`keel_verify.crypto.canonical`; RFC 8785 on these values) of::

    {...the atom as sent, without "signatures" and without members left at their
     default (absent or null), with "captured_at_ns" as a decimal string,
     "session_id": <the session's id>, "signed_at": <the signature entry's signed_at>}

Binding the session id stops a signed atom being replayed into another session;
binding ``signed_at`` makes the signature entry's time part of what is signed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keel_verify.crypto import ed25519 as strict_ed25519
from keel_verify.emit.chain import canonical_bytes


def signed_message(signed_object: dict[str, Any], *, session_id: str, signed_at: str) -> bytes:
    """The bytes a sidecar signs for ``signed_object`` (plain JSON, defaults left out)."""
    content = {k: v for k, v in signed_object.items() if k != "signatures" and v is not None}
    if "captured_at_ns" in content:
        content["captured_at_ns"] = str(int(content["captured_at_ns"]))
    content["session_id"] = session_id
    content["signed_at"] = signed_at
    return canonical_bytes(content)


def sign(signed_object: dict[str, Any], key: Ed25519PrivateKey, *, key_id: str,
         session_id: str, signed_at: str) -> dict[str, str]:
    """A ``signatures[]`` entry: ``signature`` is base64 of the 64-byte Ed25519 signature."""
    message = signed_message(signed_object, session_id=session_id, signed_at=signed_at)
    return {"algorithm": "ed25519", "key_id": key_id,
            "signature": base64.b64encode(key.sign(message)).decode("ascii"),
            "signed_at": signed_at}


def verifies(public_key: bytes, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (base64 of 64 bytes) is an Ed25519 signature of ``message``
    by the raw 32-byte ``public_key``, under the strict rules of RFC 8032 5.1.7
    (:mod:`keel_verify.crypto.ed25519`)."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 64 and strict_ed25519.verify(public_key, raw, message)
