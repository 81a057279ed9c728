"""Audio as evidence without the audio: formats, durations from byte counts, hashing.

Keel never receives media bytes. An adapter decodes a provider's base64 audio only to
count and hash it: the atom carries ``content_hash`` (SHA-256 of the decoded bytes of
every delta it aggregates, concatenated in arrival order), ``format``, ``sample_rate_hz``,
``duration_ms`` computed from the byte count and the format, and the byte count in its
``attributes``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AudioFormat:
    """A mono sample format: the Keel ``format`` label, its sample rate and byte rate."""

    label: str  # "pcm16", "g711_ulaw", "g711_alaw"
    sample_rate_hz: int
    bytes_per_second: int

    def duration_ms(self, byte_count: int) -> int:
        """Whole milliseconds of audio in ``byte_count`` bytes (rounded down)."""
        return byte_count * 1000 // self.bytes_per_second


PCM16_24K = AudioFormat("pcm16", 24_000, 48_000)  # 16-bit little-endian mono
G711_ULAW_8K = AudioFormat("g711_ulaw", 8_000, 8_000)  # one byte per sample
G711_ALAW_8K = AudioFormat("g711_alaw", 8_000, 8_000)


def decode_base64(text: object) -> bytes | None:
    """The bytes of a standard base64 string, or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass
class AudioRun:
    """Consecutive audio deltas folded into one ``audio_chunk`` atom."""

    key: tuple[str, ...]  # (direction, item or track): deltas of one stream
    fmt: AudioFormat
    first_ns: int
    lines: list[int] = field(default_factory=list)
    byte_count: int = 0
    ref: dict[str, Any] = field(default_factory=dict)  # provider ids: item, track, chunks
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, line: int, data: bytes) -> None:
        self.lines.append(line)
        self.byte_count += len(data)
        self._digest.update(data)

    @property
    def content_hash(self) -> str:
        return "sha256:" + self._digest.hexdigest()

    @property
    def duration_ms(self) -> int:
        return self.fmt.duration_ms(self.byte_count)
