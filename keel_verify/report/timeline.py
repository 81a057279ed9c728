"""Geometry of the session timeline picture (an inline SVG in the HTML report).

Pure presentation of :class:`~keel_verify.facts.model.Timeline`: time runs along the x
axis, one lane per kind of event. Chain times are recorded to the second, so events that
share a second are spread across it in chain order (the axis says so). Witness times far
outside the session (a genTime days before it, say) are drawn at the edge, marked
"off scale", with their real time in the label.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from keel_verify.facts.model import LANES, Mark, Timeline
from keel_verify.results import counted

WIDTH = 1000  # SVG user units
LEFT = 150  # lane labels
RIGHT = 40  # room for the last tick's label
LANE_HEIGHT = 40
TOP = 26  # axis labels
MIN_WIDTH = 3.0
EDGE_SLACK = 0.05  # a witness time within 5 % of the span beyond an end is still on scale

_LANE_LABEL = dict(LANES)


@dataclass(frozen=True)
class Lane:
    key: str
    label: str
    y: float  # top of the lane


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Shape:
    """One mark: a rectangle (``width`` > 0) or a diamond (``width`` == 0) at ``x``."""

    x: float
    y: float  # centre line of its lane
    width: float
    css: str  # classes: lane and state
    title: str  # hover text: event type, sequence, hash prefix, label
    text: str  # a short label drawn beside important marks ("" for none)
    off_scale: str = ""  # "before" / "after" when clamped to an edge
    text_x: float = 0.0
    text_y: float = 0.0
    anchor: str = "start"  # SVG text-anchor of the label
    priority: int = 2  # labels placed first: 0 denied, 1 decisions and witness, 2 the rest


@dataclass(frozen=True)
class Bar:
    """One density bin of a crowded lane."""

    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]
    shapes: tuple[Shape, ...]
    bars: tuple[Bar, ...]
    note: str  # how to read the axis
    empty: bool
    lane_height: int = LANE_HEIGHT


_DECISIONS = {"voice.turn.evaluated", "voice.tool_invocation.governed", "voice.action.governed",
              "session permit", "child permit", "RFC 3161 genTime", "issued_at"}
_LABELLED = {"turns", "tools", "permits", "interruptions", "witness"}


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")


def _title(mark: Mark) -> str:
    parts = [mark.event_type]
    if mark.sequence is not None:
        parts.append(f"sequence {mark.sequence}")
    if mark.hash_prefix:
        parts.append(f"hash {mark.hash_prefix}")
    if mark.t is not None:
        parts.append(datetime.fromtimestamp(mark.t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if mark.duration_ms is not None:
        parts.append(f"{mark.duration_ms} ms")
    if mark.label and mark.label != mark.event_type:
        parts.append(mark.label)
    return " \u00b7 ".join(parts)


def _spread(marks: tuple[Mark, ...]) -> dict[int, float]:
    """Position within its second of each chain mark (by id), in chain order; a permit's
    mark takes the position of the chain entry it is bound to."""
    by_second: dict[float, list[Mark]] = {}
    for mark in marks:
        if mark.t is not None and mark.lane not in ("witness", "permits"):
            by_second.setdefault(mark.t, []).append(mark)
    offsets: dict[int, float] = {}
    by_sequence: dict[int, float] = {}
    for group in by_second.values():
        group.sort(key=lambda m: (m.sequence is None, m.sequence or 0))
        for rank, mark in enumerate(group):
            offsets[id(mark)] = (rank + 0.5) / len(group)
            if mark.sequence is not None:
                by_sequence.setdefault(mark.sequence, offsets[id(mark)])
    for mark in marks:
        if mark.lane == "permits" and mark.sequence in by_sequence:
            offsets[id(mark)] = by_sequence[mark.sequence]
    return offsets


def build_picture(timeline: Timeline) -> Picture:
    lanes = tuple(
        Lane(key, _LANE_LABEL.get(key, key), TOP + index * LANE_HEIGHT)
        for index, key in enumerate(timeline.lanes)
    )
    height = TOP + len(lanes) * LANE_HEIGHT + 8
    y_of = {lane.key: lane.y + LANE_HEIGHT / 2 for lane in lanes}
    if timeline.start is None or timeline.end is None:
        return Picture(WIDTH, height, lanes, (), (), (), "no readable event times", True)
    start, end = timeline.start, timeline.end + 1  # the last second is drawn whole
    span = end - start
    scale = (WIDTH - LEFT - RIGHT) / span

    def x_at(t: float) -> float:
        return LEFT + (t - start) * scale

    offsets = _spread(timeline.marks)
    shapes: list[Shape] = []
    for mark in timeline.marks:
        if mark.t is None or mark.lane not in y_of:
            continue
        t = mark.t + offsets.get(id(mark), 0.0)
        off = ""
        if t < start - EDGE_SLACK * span:
            off, t = "before", start
        elif t > end + EDGE_SLACK * span:
            off, t = "after", end
        t = min(max(t, start), end)
        width = 0.0
        if mark.duration_ms is not None and mark.duration_ms > 0:
            width = max(MIN_WIDTH, min(mark.duration_ms / 1000 * scale, x_at(end) - x_at(t)))
        state = mark.state if mark.state in ("allowed", "denied", "recorded", "witnessed",
                                             "claimed") else "other"
        text = mark.label if mark.lane in _LABELLED else ""
        if off:
            arrow = "\u25c0" if off == "before" else "\u25b6"
            text = f"{arrow} off scale: {mark.label}"
        priority = 0 if state == "denied" else 1 if mark.event_type in _DECISIONS else 2
        shapes.append(Shape(x_at(t), y_of[mark.lane], width, f"m-{mark.lane} s-{state}",
                            _title(mark), _short(text), off, priority=priority))
    shapes = _place_labels(shapes)
    bars: list[Bar] = []
    for bins in timeline.bins:
        if bins.lane not in y_of or not bins.counts:
            continue
        peak = max(bins.counts) or 1
        step = (x_at(bins.end + 1) - x_at(bins.start)) / len(bins.counts)
        for index, count in enumerate(bins.counts):
            if count:
                bar_height = max(2.0, (LANE_HEIGHT - 10) * count / peak)
                bars.append(Bar(x_at(bins.start) + index * step, y_of[bins.lane] + (LANE_HEIGHT - 10) / 2
                                - bar_height, max(step - 0.5, 0.5), bar_height,
                                counted(count, f"{_LANE_LABEL.get(bins.lane, bins.lane)} event")))
    ticks = tuple(Tick(x_at(t), _clock(t)) for t in _tick_times(start, end))
    note = ("time (UTC) from each entry's occurred_at, recorded to the second; events within "
            "one second are spread across it in chain order")
    if timeline.bins:
        note += "; crowded lanes show event counts per time slice"
    return Picture(WIDTH, height, lanes, ticks, tuple(shapes), tuple(bars), note, False)


CHAR_WIDTH = 6.0  # average advance of the 10.5px label font, in user units


def _place_labels(shapes: list[Shape]) -> list[Shape]:
    """Each label below its mark, else above it, else left out (the legend table and
    the hover text still give it): labels never overlap within a lane. Denied marks, then
    decisions (turns, governed tool calls, permits) and witness times are labelled first,
    so theirs are the last to be left out. Labels that would run
    past the right edge end at their mark instead."""
    taken: dict[tuple[float, int], list[tuple[float, float]]] = {}
    placed: dict[int, Shape] = {}
    order = sorted(range(len(shapes)),
                   key=lambda i: (shapes[i].priority, shapes[i].y, shapes[i].x))
    for index in order:
        shape = shapes[index]
        if not shape.text:
            placed[index] = shape
            continue
        width = len(shape.text) * CHAR_WIDTH
        start, anchor, text_x = shape.x + 9, "start", shape.x + 9
        if start + width > WIDTH - 4:
            start, anchor, text_x = shape.x - 9 - width, "end", shape.x - 9
        end = start + width
        for row, dy in enumerate((15.0, -9.0)):
            spans = taken.setdefault((shape.y, row), [])
            if all(end + 2 < left or start > right + 2 for left, right in spans):
                spans.append((start, end))
                placed[index] = dataclasses.replace(shape, text_x=text_x, text_y=shape.y + dy,
                                                    anchor=anchor)
                break
        else:
            placed[index] = dataclasses.replace(shape, text="")
    return [placed[index] for index in range(len(shapes))]


def _short(text: str, limit: int = 72) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _tick_times(start: float, end: float) -> list[float]:
    span = end - start
    nice = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
    step = next((float(s) for s in nice if span / s <= 10), span / 10)
    first = start - start % step + (step if start % step else 0)
    times: list[float] = []
    t = first
    while t <= end and len(times) < 12:
        times.append(t)
        t += step
    return times
