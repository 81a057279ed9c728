"""``policy_binding``: everything that names the policy snapshot names the one embedded
here, and everything agrees on the project (docs/format.md §6, §7, §9.4).

The snapshot hash is recomputed (``SHA-256(C(snapshot without snapshot_id and
snapshot_hash))``) and compared, as hex, with ``policy_snapshot.snapshot_hash``,
``session_metadata.policy_snapshot_hash`` and each permit's ``policy_snapshot_hash`` (the
parent session permit when present, and every child tool-call permit); both the bare and
the ``sha256:`` form are accepted. ``session_metadata.policy_snapshot_id`` must be the
snapshot's ``snapshot_id``, and the snapshot's and every permit's ``project_id`` must be
the session's.
"""

from __future__ import annotations

import re
from typing import Any

from keel_verify.checks.base import Check, counted
from keel_verify.checks.binding_support import (
    Problems,
    problems_then_warnings,
    same_text,
    show,
    text,
)
from keel_verify.context import CheckContext
from keel_verify.load.access import Malformed, list_at, member, obj_at, str_at, type_name
from keel_verify.results import CheckResult, Outcome

NAME = "policy_binding"

_HASH_EITHER_FORM = re.compile(r"(?:sha256:)?[0-9a-f]{64}")


def _same_hash(
    obj: dict[str, Any], key: str, pointer: str, recomputed: str, what: str, problems: Problems
) -> None:
    where = f"{pointer}/{key}"
    if key not in obj:
        problems.append((where, f"{what} is missing"))
        return
    value = obj[key]
    if not isinstance(value, str) or not _HASH_EITHER_FORM.fullmatch(value):
        problems.append((where, f"{what} {show(value)} is not a SHA-256 hash (64 lowercase hex "
                                "digits, bare or after 'sha256:')"))
    elif value.removeprefix("sha256:") != recomputed:
        problems.append((where, f"{what} {value} does not name the embedded policy snapshot, "
                                f"which hashes to {recomputed}"))


def permits_with_pointers(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """The parent session permit (when not null) and each child tool-call permit."""
    permits = obj_at(document, "permits", "")
    parent = member(permits, "parent_session_permit", "/permits")
    if parent is not None and not isinstance(parent, dict):
        raise Malformed("/permits/parent_session_permit", "expected an object or null")
    children = list_at(permits, "child_tool_call_permits", "/permits")
    listed: list[tuple[str, Any]] = []
    if parent is not None:
        listed.append(("/permits/parent_session_permit", parent))
    listed.extend(
        (f"/permits/child_tool_call_permits/{index}", permit)
        for index, permit in enumerate(children)
    )
    return listed


def run(context: CheckContext) -> CheckResult:
    document = context.artifact.document
    snapshot = obj_at(document, "policy_snapshot", "")
    metadata = obj_at(document, "session_metadata", "")
    project_id = str_at(metadata, "project_id", "/session_metadata")
    snapshot_id = str_at(snapshot, "snapshot_id", "/policy_snapshot")
    recomputed = context.policy_snapshot_hash_hex
    permits = permits_with_pointers(document)

    problems: Problems = []
    _same_hash(snapshot, "snapshot_hash", "/policy_snapshot", recomputed,
               "policy_snapshot.snapshot_hash", problems)
    _same_hash(metadata, "policy_snapshot_hash", "/session_metadata", recomputed,
               "session_metadata.policy_snapshot_hash", problems)
    same_text(metadata, "policy_snapshot_id", "/session_metadata", snapshot_id,
              "session_metadata.policy_snapshot_id", problems)
    same_text(snapshot, "project_id", "/policy_snapshot", project_id,
              "policy_snapshot.project_id", problems)
    for pointer, permit in permits:
        if not isinstance(permit, dict):
            problems.append((pointer, f"permit is {type_name(permit)}, not an object"))
            continue
        _same_hash(permit, "policy_snapshot_hash", pointer, recomputed,
                   f"permit {pointer} policy_snapshot_hash", problems)
        same_text(permit, "project_id", pointer, project_id, f"permit {pointer} project_id",
                  problems)
    return problems_then_warnings(
        NAME,
        problems,
        [],
        f"policy snapshot {text(snapshot_id)} hashes to {recomputed}, the hash named by "
        f"policy_snapshot, session_metadata and {counted(len(permits), 'permit')}; all are in project "
        f"{text(project_id)}",
        code="policy_mismatch",
        recomputed=recomputed,
        snapshot_id=snapshot_id,
        permits=len(permits),
    )


CHECK = Check(
    NAME, run, "snapshot hash and id, session and permits all name the same policy",
    codes={
        "ok": (Outcome.PASS, "snapshot, session metadata and permits name the same policy and project"),
        "policy_mismatch": (Outcome.FAIL, "the snapshot, session metadata or a permit names another "
                                          "policy or project"),
    },
)
