"""Trust-root files, TSA root files, and how key windows and revocation are judged --
at the authenticated genTime when a verified witness gives one, else at the signed
issued_at -- never at a signature entry's own (unsigned) signed_at."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keel_verify import Outcome, TrustPolicy, Verdict
from keel_verify.errors import TrustConfigError
from keel_verify.schemas import TRUST_ROOT_SCHEMA, load_schema
from keel_verify.trust import TRUST_ROOT_ENV
from keel_verify.trust.policy import environment_trust_root_path
from keel_verify.trust.signer import ISSUED_AT_BASIS
from keel_verify.trust.sources import TrustSpec
from keel_verify.trust.trust_root import (
    TrustRoot,
    add_tsa_roots,
    load_trust_root,
    load_tsa_roots,
)
from tests.helpers import (
    OTHER_KEY,
    PUBLIC_V3_KEY,
    TEST_ISSUER_PUBLIC,
    public_v3,
    resign,
)
from tests.tsa_support import authority, other_authority, verify, witnessed_v3

SIGNED_AT = "2026-05-21T14:35:00Z"  # the v3 sample's signed_at
GEN_TIME = "2026-05-21T14:35:01Z"  # tests.tsa_support.GEN_TIME


def write(tmp_path: Path, document: Any, name: str = "trust-root.json") -> Path:
    path = tmp_path / name
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def root_file(tmp_path: Path, *keys: dict[str, Any], tsa: bool = True) -> Path:
    document: dict[str, Any] = {"trust_root_version": 1, "issuer_keys": list(keys)}
    if tsa:
        document["tsa_roots"] = [authority().root_pem()]
    return write(tmp_path, document)


def key(public_key: str = TEST_ISSUER_PUBLIC, **conditions: Any) -> dict[str, Any]:
    return {"public_key": public_key, **conditions}


def trust_from(path: Path, **kwargs: Any) -> TrustPolicy:
    return load_trust_root(path).apply(TrustPolicy(**kwargs))


# -- loading -----------------------------------------------------------------------------


def test_schema_is_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    schema = load_schema(TRUST_ROOT_SCHEMA)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_valid_file_loads_keys_and_tsa_roots(tmp_path: Path) -> None:
    path = root_file(
        tmp_path,
        key(key_id="issuer-2026", not_before="2026-01-01T00:00:00Z",
            not_after="2027-01-01T00:00:00Z"),
        key(PUBLIC_V3_KEY, purpose="audit_export", status="revoked",
            revoked_at="2026-09-01T00:00:00.5Z"),
    )
    loaded = load_trust_root(path)
    first, second = loaded.issuer_keys
    assert first.encoded == TEST_ISSUER_PUBLIC
    assert first.label == "issuer-2026"
    assert first.purpose == "export_signing"
    assert first.status == "active"
    assert first.not_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert first.source == f'trust root {path}, issuer_keys[0] ("issuer-2026")'
    assert second.purpose == "audit_export"
    assert second.status == "revoked"
    assert second.revoked_at == datetime(2026, 9, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert second.source == f"trust root {path}, issuer_keys[1]"
    assert loaded.tsa_roots == (authority().root_certificate,)
    assert loaded.source == f"trust root {path}"


def test_apply_adds_to_an_existing_policy(tmp_path: Path) -> None:
    pinned = TrustPolicy.pinned(PUBLIC_V3_KEY, strict=True)
    merged = load_trust_root(root_file(tmp_path, key())).apply(pinned)
    assert [k.encoded for k in merged.issuer_keys] == [PUBLIC_V3_KEY, TEST_ISSUER_PUBLIC]
    assert merged.strict is True
    assert merged.tsa_roots == (authority().root_certificate,)
    assert merged.tsa_roots_source == f"trust root {tmp_path / 'trust-root.json'}"


def test_tsa_roots_only_file_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, {"trust_root_version": 1, "tsa_roots": [authority().root_pem()]})
    loaded = load_trust_root(path)
    assert loaded.issuer_keys == ()
    assert len(loaded.tsa_roots) == 1


def test_one_pem_string_may_hold_several_certificates(tmp_path: Path) -> None:
    bundle = authority().root_pem() + other_authority().root_pem()
    path = write(tmp_path, {"trust_root_version": 1, "tsa_roots": [bundle]})
    assert load_trust_root(path).tsa_roots == (
        authority().root_certificate, other_authority().root_certificate,
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ('{"trust_root_version": 1, "trust_root_version": 1, "tsa_roots": []}', "duplicate"),
        ('{"trust_root_version": NaN, "tsa_roots": []}', "NaN"),
        ("[]", "at /: [] is not of type 'object'"),
        ({"issuer_keys": []}, "'trust_root_version' is a required property"),
        ({"trust_root_version": 2, "issuer_keys": []}, "at /trust_root_version"),
        ({"trust_root_version": 1}, "lists neither issuer_keys nor tsa_roots"),
        ({"trust_root_version": 1, "issuer_keys": [], "extra": 1}, "'extra' was unexpected"),
        ({"trust_root_version": 1, "issuer_keys": [{"key_id": "x"}]},
         "at /issuer_keys/0: 'public_key' is a required property"),
        ({"trust_root_version": 1, "issuer_keys": [{"public_key": "ed25519:AAAA"}]},
         "at /issuer_keys/0/public_key: expected 'ed25519:' + base64 of a 32-byte key"),
        ({"trust_root_version": 1, "issuer_keys": [key(status="paused")]},
         "at /issuer_keys/0/status"),
        ({"trust_root_version": 1, "issuer_keys": [key(revoked_at="2026-01-01T00:00:00Z")]},
         "at /issuer_keys/0"),
        ({"trust_root_version": 1,
          "issuer_keys": [key(status="active", revoked_at="2026-01-01T00:00:00Z")]},
         "at /issuer_keys/0/status"),
        ({"trust_root_version": 1, "issuer_keys": [key(not_before="2026-01-01")]},
         "at /issuer_keys/0/not_before"),
        ({"trust_root_version": 1, "issuer_keys": [key(not_before="2026-02-30T00:00:00Z")]},
         "at /issuer_keys/0/not_before: not a valid date and time"),
        ({"trust_root_version": 1, "issuer_keys": [
            key(not_before="2027-01-01T00:00:00Z", not_after="2026-01-01T00:00:00Z")]},
         "at /issuer_keys/0: not_after is before not_before"),
        ({"trust_root_version": 1, "tsa_roots": ["just text"]},
         "at /tsa_roots/0: expected a PEM certificate"),
        ({"trust_root_version": 1, "tsa_roots": [
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]},
         "at /tsa_roots/0: not a valid PEM certificate"),
    ],
    ids=["bad-json", "duplicate-key", "nan", "not-object", "no-version", "wrong-version",
         "empty", "unknown-member", "key-without-public-key", "bad-key", "bad-status",
         "revoked-at-without-status", "revoked-at-but-active", "date-only", "impossible-date",
         "window-reversed", "not-pem", "bad-pem"],
)
def test_malformed_files_raise_a_one_line_trust_config_error(
    tmp_path: Path, content: Any, words: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(TrustConfigError) as caught:
        load_trust_root(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"trust root {path}: ")
    assert words in message


def test_non_utf8_file_is_a_trust_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"trust_root_version": 1, "description": "\xe9"}')
    with pytest.raises(TrustConfigError, match="not UTF-8"):
        load_trust_root(path)


def test_missing_file_and_directory_are_trust_config_errors(tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="no such file"):
        load_trust_root(tmp_path / "absent.json")
    with pytest.raises(TrustConfigError, match="is a directory"):
        load_trust_root(tmp_path)


def test_tsa_roots_file_loads_every_certificate(tmp_path: Path) -> None:
    path = write(tmp_path, authority().root_pem() + other_authority().root_pem(), "roots.pem")
    roots = load_tsa_roots(path)
    assert roots == (authority().root_certificate, other_authority().root_certificate)
    policy = add_tsa_roots(TrustPolicy(), roots, f"TSA roots file {path}")
    assert policy.tsa_roots == roots
    assert policy.tsa_roots_source == f"TSA roots file {path}"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("no certificate here\n", "contains no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
         "not a valid PEM certificate"),
        ("\u00e9", "not a PEM text file"),
    ],
    ids=["no-pem", "bad-pem", "not-ascii"],
)
def test_bad_tsa_roots_files_raise(tmp_path: Path, content: str, words: str) -> None:
    path = write(tmp_path, content, "roots.pem")
    with pytest.raises(TrustConfigError) as caught:
        load_tsa_roots(path)
    assert str(caught.value).startswith(f"TSA roots file {path}: ")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_trust_roots_come_from_the_option_and_the_environment() -> None:
    environ = {TRUST_ROOT_ENV: "/etc/keel/trust-root.json"}
    assert environment_trust_root_path(environ) == "/etc/keel/trust-root.json"
    assert environment_trust_root_path({TRUST_ROOT_ENV: ""}) is None
    assert environment_trust_root_path({}) is None
    both = TrustSpec((), False, "given.json", (), False, environment_trust_root="/etc/k.json")
    assert both.trust_roots == ("given.json", "/etc/k.json")  # both apply
    same = TrustSpec((), False, "given.json", (), False, environment_trust_root="given.json")
    assert same.trust_roots == ("given.json",)


# -- judging keys (trust.key_decision), at issued_at --------------------------------


def issuer_result(tmp_path: Path, document: dict[str, Any], *keys: dict[str, Any],
                  tsa: bool = False) -> Any:
    report = verify(document, trust_from(root_file(tmp_path, *keys, tsa=tsa)))
    return report, report.check("issuer_signature")


def test_public_sample_verifies_against_a_trust_root_naming_its_key(tmp_path: Path) -> None:
    report, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, key_id="keel-pub"))
    assert result.outcome is Outcome.PASS
    assert f'trust root {tmp_path / "trust-root.json"}, issuer_keys[0] ("keel-pub")' in result.reason
    assert report.signer is not None and report.signer.trusted
    assert report.signer.time_basis == ISSUED_AT_BASIS


@pytest.mark.parametrize(
    ("window", "words"),
    [
        ({"not_before": "2026-05-21T14:35:01Z"}, "before the key is valid"),
        ({"not_after": "2026-05-21T14:34:59Z"}, "after the key expired"),
    ],
    ids=["before-window", "after-window"],
)
def test_signing_outside_the_window_fails(
    tmp_path: Path, window: dict[str, str], words: str
) -> None:
    report, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, **window))
    assert result.outcome is Outcome.FAIL
    assert words in result.reason
    assert report.verdict is Verdict.FAILED


def test_signing_inside_an_open_window_passes(tmp_path: Path) -> None:
    window = {"not_before": SIGNED_AT, "not_after": "2099-01-01T00:00:00Z"}
    _, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, **window))
    assert result.outcome is Outcome.PASS


def test_a_closed_window_rests_on_issued_at_and_warns(tmp_path: Path) -> None:
    window = {"not_before": SIGNED_AT, "not_after": SIGNED_AT}  # inclusive at both ends
    report, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, **window))
    assert result.outcome is Outcome.WARN
    assert "rests only on issued_at" in result.reason
    assert report.verdict is Verdict.VERIFIED


@pytest.mark.parametrize("revoked_at", [SIGNED_AT, "2026-05-21T14:34:00Z"], ids=["at", "before"])
def test_key_revoked_at_or_before_signing_fails(tmp_path: Path, revoked_at: str) -> None:
    revoked = key(PUBLIC_V3_KEY, status="revoked", revoked_at=revoked_at)
    _, result = issuer_result(tmp_path, public_v3(), revoked)
    assert result.outcome is Outcome.FAIL
    assert f"key was revoked at {revoked_at}" in result.reason


def test_key_revoked_after_issued_at_still_fails(tmp_path: Path) -> None:
    # issued_at (May) is the issuer's own claim: it cannot show the signature predates a
    # revocation that has already happened.
    revoked = key(PUBLIC_V3_KEY, status="revoked", revoked_at="2026-06-01T00:00:00Z")
    report, result = issuer_result(tmp_path, public_v3(), revoked)
    assert result.outcome is Outcome.FAIL
    assert "key was revoked at 2026-06-01T00:00:00Z" in result.reason
    assert "nothing in the artifact proves the signature predates the revocation" in result.reason
    assert report.verdict is Verdict.FAILED


def test_a_scheduled_revocation_is_a_note(tmp_path: Path) -> None:
    revoked = key(PUBLIC_V3_KEY, status="revoked", revoked_at="2099-06-01T00:00:00Z")
    _, result = issuer_result(tmp_path, public_v3(), revoked)
    assert result.outcome is Outcome.PASS
    assert "scheduled for revocation at 2099-06-01T00:00:00Z" in result.reason


def test_key_revoked_without_a_date_fails(tmp_path: Path) -> None:
    _, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, status="revoked"))
    assert result.outcome is Outcome.FAIL
    assert "key is revoked" in result.reason


def test_wrong_purpose_fails(tmp_path: Path) -> None:
    _, result = issuer_result(tmp_path, public_v3(), key(PUBLIC_V3_KEY, purpose="receipt_signing"))
    assert result.outcome is Outcome.FAIL
    assert "trusted only for purpose 'receipt_signing'" in result.reason


def test_key_id_alone_never_grants_trust(tmp_path: Path) -> None:
    # The trust root names the sample's key_id but another key: the key decides.
    sample_key_id = public_v3()["signatures"][0]["key_id"]
    report, result = issuer_result(tmp_path, public_v3(), key(key_id=sample_key_id))
    assert result.outcome is Outcome.FAIL
    assert report.verdict is Verdict.FAILED


# -- re-signed with an untrusted key: never VERIFIED ----------------------------------


def _altered_v3() -> dict[str, Any]:
    document = public_v3()
    document["session_metadata"]["model"] = "attacker-model"
    return document


@pytest.mark.parametrize(
    "trust",
    [
        TrustPolicy(),
        TrustPolicy.pinned(PUBLIC_V3_KEY),
        TrustPolicy.pinned(TEST_ISSUER_PUBLIC),
        TrustPolicy.self_attested_only(strict=True),
    ],
    ids=["nothing-trusted", "pinned-original", "pinned-issuer", "self-attested-strict"],
)
def test_altered_and_resigned_with_an_untrusted_key_is_never_verified(trust: TrustPolicy) -> None:
    report = verify(resign(_altered_v3(), OTHER_KEY), trust)
    assert report.verdict is not Verdict.VERIFIED
    assert report.exit_code != 0


def test_altered_and_resigned_under_a_trust_root_fails(tmp_path: Path) -> None:
    for document in (resign(_altered_v3(), OTHER_KEY), witnessed_v3(key=OTHER_KEY)):
        report = verify(document, trust_from(root_file(tmp_path, key(), key(PUBLIC_V3_KEY))))
        assert report.verdict is Verdict.FAILED
        assert report.check("issuer_signature").outcome is Outcome.FAIL


# -- the authenticated genTime is preferred over signed_at -----------------------------


def test_authenticated_gen_time_is_the_time_basis(tmp_path: Path) -> None:
    report, result = issuer_result(tmp_path, witnessed_v3(), key(), tsa=True)
    assert result.outcome is Outcome.PASS, result.reason
    assert report.check("timestamp_witness").outcome is Outcome.PASS
    assert report.signer is not None
    assert report.signer.time_basis == f"witnessed genTime {GEN_TIME} (authenticated)"
    assert report.verdict is Verdict.VERIFIED


def test_revocation_between_signed_at_and_gen_time_fails_when_gen_time_is_authenticated(
    tmp_path: Path,
) -> None:
    # signed_at says 14:35:00, before the revocation at 14:35:00.5; the TSA proves the
    # chain head was witnessed at 14:35:01, after it. The signature covers that receipt,
    # so it was made after the revocation: the authenticated time decides.
    revoked = key(status="revoked", revoked_at="2026-05-21T14:35:00.5Z")
    report, result = issuer_result(tmp_path, witnessed_v3(), revoked, tsa=True)
    assert result.outcome is Outcome.FAIL
    assert f"witnessed genTime {GEN_TIME} shows the signature was made after" in result.reason
    assert f"witnessed genTime {GEN_TIME} (authenticated)" in str(result.details["time_basis"])
    assert report.verdict is Verdict.FAILED


def test_backdated_signed_at_does_not_escape_revocation(tmp_path: Path) -> None:
    revoked = key(status="revoked", revoked_at="2026-03-01T00:00:00Z")
    backdated = witnessed_v3(signed_at="2026-01-01T00:00:00Z")
    _, result = issuer_result(tmp_path, backdated, revoked, tsa=True)
    assert result.outcome is Outcome.FAIL
    # Without a TSA root the genTime is not authenticated: the signed issued_at decides,
    # and the unsigned signed_at (backdated before the revocation) changes nothing.
    _, unanchored = issuer_result(tmp_path, backdated, revoked, tsa=False)
    assert unanchored.outcome is Outcome.FAIL
    assert "key was revoked at 2026-03-01T00:00:00Z" in unanchored.reason
    assert unanchored.details["time_basis"] == ISSUED_AT_BASIS


def test_window_is_judged_at_gen_time_when_authenticated(tmp_path: Path) -> None:
    # Valid only from 14:35:01: issued_at (14:35:00) is outside, the genTime inside.
    window = key(not_before=GEN_TIME)
    _, witnessed = issuer_result(tmp_path, witnessed_v3(), window, tsa=True)
    assert witnessed.outcome is Outcome.PASS
    _, unwitnessed = issuer_result(tmp_path, witnessed_v3(), window, tsa=False)
    assert unwitnessed.outcome is Outcome.FAIL


def test_trust_root_from_another_tsa_leaves_the_time_unauthenticated(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "trust_root_version": 1,
        "issuer_keys": [key()],
        "tsa_roots": [other_authority().root_pem()],
    })
    report = verify(witnessed_v3(), load_trust_root(path).apply(TrustPolicy()))
    assert report.check("timestamp_witness").outcome is Outcome.FAIL
    assert report.signer is not None
    assert report.signer.time_basis == ISSUED_AT_BASIS


def test_trust_root_type_is_a_frozen_dataclass(tmp_path: Path) -> None:
    loaded = load_trust_root(root_file(tmp_path, key()))
    assert isinstance(loaded, TrustRoot)
    with pytest.raises(AttributeError):
        loaded.source = "changed"  # type: ignore[misc]


def test_revocation_after_an_authenticated_gen_time_still_fails(tmp_path: Path) -> None:
    # The signature covers the receipt, so it was made at or after genTime: a revocation
    # after genTime does not prove the signature predates it.
    revoked = key(status="revoked", revoked_at="2026-06-01T00:00:00Z")
    report, result = issuer_result(tmp_path, witnessed_v3(), revoked, tsa=True)
    assert result.outcome is Outcome.FAIL
    assert "key was revoked at 2026-06-01T00:00:00Z" in result.reason
    assert report.verdict is Verdict.FAILED
