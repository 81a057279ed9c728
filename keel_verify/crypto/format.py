"""Format rules that the producer (``emit/``) and the verifier (``checks/``) share.

Each is a pure function of JSON values; see ``docs/format.md`` for the rules in words.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from keel_verify.crypto.canonical import GENESIS_HASH, canonical_bytes

__all__ = ["GENESIS_HASH", "snapshot_hash_hex"]

# Members of the policy snapshot that name the hash rather than feed it.
_SNAPSHOT_SELF_MEMBERS = ("snapshot_id", "snapshot_hash")


def snapshot_hash_hex(snapshot: dict[str, Any],
                      encode: Callable[[Any], bytes] = canonical_bytes) -> str:
    """``SHA-256(C(policy_snapshot without snapshot_id and snapshot_hash))`` as bare
    lowercase hex (64 characters). ``encode`` writes C: the exact encoder, or a faster one
    proven to write the same bytes for this value (the verifier's msgspec encoder, for a
    snapshot proven free of floats, unsafe integers and non-BMP keys)."""
    hashed = {k: v for k, v in snapshot.items() if k not in _SNAPSHOT_SELF_MEMBERS}
    return hashlib.sha256(encode(hashed)).hexdigest()
