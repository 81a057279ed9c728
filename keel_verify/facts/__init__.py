"""Session facts: what happened in the session, read from an artifact for the reports.

:mod:`~keel_verify.facts.collect` gathers them during the single chain pass,
:mod:`~keel_verify.facts.extract` completes them from the rest of the artifact, and
:mod:`~keel_verify.facts.model` holds the typed records the renderers show. Facts decide
nothing; the ``session_counters`` check judges the counter comparisons they carry.
"""

from __future__ import annotations

from keel_verify.facts.model import SessionFacts

#: The chain-pass visitor name under which the collector runs.
FACTS_VISITOR = "session_facts"

__all__ = ["FACTS_VISITOR", "SessionFacts"]
