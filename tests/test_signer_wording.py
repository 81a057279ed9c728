"""The words about the signer agree with the trust policy that was applied: "self-attested"
only where no trust source was given (or --self-attested accepted the key), never for a
key that the given trust sources simply do not list; and bad trust input is one line
that does not send the user to --help."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from keel_verify import Report, TrustPolicy, Verdict, verify_bytes
from keel_verify.report.terminal import render
from tests.helpers import OTHER_KEY, TEST_ISSUER_PUBLIC, public_v3, resign, to_bytes
from tests.test_cli import assert_one_line_error, run

FORGED = to_bytes(resign(public_v3(), OTHER_KEY))


def render_text(reports: list[Report]) -> str:
    stream = io.StringIO()
    render(reports, stream)
    return stream.getvalue()


def test_a_key_the_trust_sources_do_not_list_is_not_called_self_attested() -> None:
    report = verify_bytes(FORGED, TrustPolicy.pinned(TEST_ISSUER_PUBLIC))
    assert report.verdict is Verdict.FAILED
    assert report.signer is not None
    assert report.signer.trust_source == "none (the key is in no trust source given)"
    assert report.signer.trust_basis == "none"
    origin = [gap for gap in report.not_proven if gap.startswith("origin:")]
    assert origin == [
        "origin: the signing key is in no trust source given (found only inside the "
        "artifact); the signature proves internal consistency, not who issued it"
    ]
    assert "self-attested" not in render_text([report])


def test_without_a_trust_source_the_embedded_key_is_self_attested() -> None:
    report = verify_bytes(FORGED, TrustPolicy())
    assert report.verdict is Verdict.UNTRUSTED
    assert report.signer is not None
    assert report.signer.trust_source == "self-attested (no trust source given)"
    assert any("self-attested" in gap for gap in report.not_proven)


def test_an_invalid_signature_is_not_called_a_key() -> None:
    document = resign(public_v3(), OTHER_KEY)
    document["issued_at"] = "2026-05-21T15:00:00Z"  # after signing: the signature breaks
    report = verify_bytes(to_bytes(document), TrustPolicy.pinned(TEST_ISSUER_PUBLIC))
    text = render_text([report])
    signer_line = next(line for line in text.splitlines() if line.strip().startswith("signer"))
    assert "key no verified key" not in signer_line
    assert "no verified key" in signer_line


@pytest.mark.parametrize("key", ["ed25519:AQ==", "ed25519:" + "A" * 43 + "="])
def test_bad_trust_input_is_one_line_without_a_help_hint(key: str, tmp_path: Path) -> None:
    artifact = tmp_path / "a.json"
    artifact.write_bytes(FORGED)
    result = run("--public-key", key, artifact)
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "try --help" not in result.stderr


def test_hostile_artifact_text_never_reaches_the_terminal_raw() -> None:
    document = public_v3()
    hostile = "sess_\u202eRTL\x00NUL\x1b[31m"
    document["session_metadata"]["session_id"] = hostile
    document["signatures"][0]["key_id"] = "label\u202e\x00"
    report = verify_bytes(to_bytes(resign(document)), TrustPolicy.pinned(TEST_ISSUER_PUBLIC))
    assert report.session_id == hostile
    text = render_text([report, report])  # two files: the summary table too
    for raw in ("\u202e", "\x00", "\x1b"):
        assert raw not in text
    assert "sess_\\u202eRTL\\x00NUL\\x1b[31m" in text


def test_a_single_gen_time_is_counted_in_the_singular() -> None:
    from keel_verify import load_trust_policy, verify_path

    sample = Path(__file__).parent.parent / "sample"
    report = verify_path(sample / "voice_session_v3.json",
                         load_trust_policy(trust_roots=[sample / "trust-root.json"]))
    reason = next(c.reason for c in report.checks if c.name == "time_consistency")
    assert "1 witnessed genTime (" in reason
    assert "(s)" not in " ".join(c.reason for c in report.checks)
