"""The gateway's recording of a provider session: JSON Lines, one provider event per line.

Each line is one JSON object (the schema is ``schemas/provider-recording-v1.schema.json``)::

    {"ts_ns": 1779373920123456789, "direction": "server", "event": {...}}

* ``ts_ns``: when the gateway received (``server``) or sent (``client``) the event, in
  epoch nanoseconds, as a JSON integer or a string of decimal digits. Provider events carry
  no wall-clock time of their own, so this is the capture time of every atom made from it.
* ``direction``: ``client`` (the gateway sent it to the provider) or ``server`` (the
  provider sent it to the gateway).
* ``event``: the provider's message exactly as it crossed the WebSocket, as a JSON object.

Each line is read as strictly as an artifact (UTF-8, no duplicate object keys at any
depth, no NaN or Infinity, bounded nesting): a duplicate key would silently drop one of
the provider's values. Blank lines are allowed and ignored; every other line must be such
an object, or the whole
recording is refused with the line number (a recording that cannot be read completely is
never half-ingested). Parsing is pure: callers read the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from keel_verify.crypto.canonical import canonical_bytes, tagged_sha256
from keel_verify.emit.bodies import MAX_EPOCH_NS
from keel_verify.errors import LoadError
from keel_verify.load.loader import parse_json

DIRECTIONS = ("client", "server")
#: The latest capture time the Keel API takes (``MAX_EPOCH_NS``, the year 2262): a later
#: ts_ns is refused here, naming the line, instead of refusing the whole session later.
MAX_TS_NS = MAX_EPOCH_NS
_DIGITS = re.compile(r"[0-9]{1,19}")


class RecordingError(ValueError):
    """The recording is not a readable event log; the message names the line."""


@dataclass(frozen=True)
class RecordedEvent:
    """One line of the recording.

    ``line`` is 1-based. ``event_hash`` is ``sha256:`` + hex of the RFC 8785 canonical
    bytes of ``event`` (so it does not depend on the gateway's JSON spacing).
    """

    line: int
    ts_ns: int
    direction: str
    event: dict[str, Any]
    event_hash: str

    @property
    def type(self) -> str:
        """The provider's event name: ``type`` (OpenAI, ChronaPilot) or ``event`` (Twilio)."""
        name = self.event.get("type", self.event.get("event"))
        return name if isinstance(name, str) and name else "<untyped>"


def parse_line(text: str, line: int) -> RecordedEvent:
    where = f"line {line}"
    try:  # as strictly as an artifact: no duplicate keys, no NaN, bounded depth
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except LoadError as error:
        raise RecordingError(f"{where}: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise RecordingError(f"{where}: must be a JSON object with ts_ns, direction and event")
    unknown = sorted(set(value) - {"ts_ns", "direction", "event"})
    if unknown:
        raise RecordingError(f"{where}: unknown member {unknown[0]!r}")
    ts = value.get("ts_ns")
    if type(ts) is int and 0 <= ts <= MAX_TS_NS:
        ts_ns = ts
    elif isinstance(ts, str) and _DIGITS.fullmatch(ts) and int(ts) <= MAX_TS_NS:
        ts_ns = int(ts)
    else:
        raise RecordingError(f"{where}: ts_ns must be epoch nanoseconds up to {MAX_TS_NS} "
                             "(an integer or a string of decimal digits)")
    direction = value.get("direction")
    if direction not in DIRECTIONS:
        raise RecordingError(f"{where}: direction must be 'client' or 'server'")
    event = value.get("event")
    if not isinstance(event, dict):
        raise RecordingError(f"{where}: event must be a JSON object (the provider's message)")
    try:
        event_hash = tagged_sha256(canonical_bytes(event))
    except (TypeError, ValueError, UnicodeEncodeError) as error:
        raise RecordingError(f"{where}: event cannot be canonicalised ({error})") from None
    return RecordedEvent(line, ts_ns, direction, event, event_hash)


def parse_recording(lines: Iterable[str]) -> tuple[RecordedEvent, ...]:
    """Every non-blank line as a :class:`RecordedEvent`, in file order.

    Raises :class:`RecordingError` for the first bad line, or for an empty recording.
    """
    events = tuple(parse_line(text, number) for number, text in enumerate(lines, start=1)
                   if text.strip())
    if not events:
        raise RecordingError("the recording holds no events")
    return events


def parse_recording_bytes(data: bytes) -> tuple[RecordedEvent, ...]:
    """:func:`parse_recording` of UTF-8 bytes (a BOM-less JSON Lines file)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordingError(f"the recording is not UTF-8 (byte {error.start})") from None
    return parse_recording(text.split("\n"))
