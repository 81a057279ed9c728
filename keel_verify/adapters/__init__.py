"""Provider event logs -> Keel voice atoms, turns and tool calls.

One module per provider, each a pure function ``adapt(events) -> SessionPlan`` from a
parsed recording (:mod:`keel_verify.adapters.recording`) to a provider-neutral plan
(:mod:`keel_verify.adapters.plan`). :mod:`keel_verify.adapters.scenario` turns a plan into
keel-emit API calls; :mod:`keel_verify.adapters.ingest` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from keel_verify.adapters import chronapilot, openai_realtime, twilio
from keel_verify.adapters.plan import SessionPlan
from keel_verify.adapters.recording import RecordedEvent, RecordingError, parse_recording_bytes

Adapter = Callable[[Sequence[RecordedEvent]], SessionPlan]

#: ``--provider`` name -> adapter.
ADAPTERS: dict[str, Adapter] = {
    openai_realtime.PROVIDER: openai_realtime.adapt,
    twilio.PROVIDER: twilio.adapt,
    chronapilot.PROVIDER: chronapilot.adapt,
}

__all__ = ["ADAPTERS", "RecordedEvent", "RecordingError", "SessionPlan", "adapt_recording",
           "parse_recording_bytes"]


def adapt_recording(provider: str, data: bytes) -> SessionPlan:
    """Parse a recording's bytes and adapt it with the named provider's adapter.

    Raises :class:`RecordingError` for an unreadable recording and :class:`KeyError` for
    an unknown provider.
    """
    return ADAPTERS[provider](parse_recording_bytes(data))
