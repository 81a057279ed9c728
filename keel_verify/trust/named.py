"""Named trust sources shipped inside the package (``--trust NAME``).

A named source is applied only when the caller names it: installing keel-verify trusts
nothing by itself.

``keel-production``: Keel's published public key manifest (its ``manifest_signature``
verified on load) and Keel's offline TSA trust bundle (roots, intermediates, CRL
snapshots with their revocation rule), as copied from Keel's own verifier package
(MIT, see ``data/keel-production/LICENSE``).
"""

from __future__ import annotations

from pathlib import Path

from keel_verify.errors import TrustConfigError
from keel_verify.results import display_path
from keel_verify.trust.policy import TrustPolicy

KEEL_PRODUCTION = "keel-production"

#: name -> trust files inside ``keel_verify/trust/data/<name>/``, applied in this order.
NAMED_SOURCES: dict[str, tuple[str, ...]] = {
    KEEL_PRODUCTION: ("public_key_manifest.json", "tsa_trust/tsa_trust_bundle_v1.json"),
}


def named_source_files(name: str) -> tuple[Path, ...]:
    """The shipped files of trust source ``name``; TrustConfigError for an unknown name
    or a package whose data files are missing."""
    if name not in NAMED_SOURCES:
        known = ", ".join(sorted(NAMED_SOURCES))
        raise TrustConfigError(f"unknown trust source {name!r} (known: {known})")
    # Wheels install as directories, so the data is a folder on disk (a TSA bundle's
    # files are read beside it).
    folder = Path(__file__).resolve().parent / "data" / name
    paths = tuple(folder.joinpath(*relative.split("/")) for relative in NAMED_SOURCES[name])
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise TrustConfigError(f"trust source {name!r}: shipped file missing: {display_path(missing[0])}")
    return paths


def apply_named_source(policy: TrustPolicy, name: str) -> TrustPolicy:
    """``policy`` plus every file of the shipped trust source ``name``."""
    from keel_verify.trust.trust_root import load_trust_root  # pulls in cryptography.x509

    for path in named_source_files(name):
        policy = load_trust_root(path, f"{name}:{path.name}").apply(policy)
    return policy
