"""Small SVG pictures for the notebooks, drawn from the learner's own data.

Each function returns an :class:`Svg`, which Jupyter shows as a picture (``_repr_svg_``)
and which needs neither IPython nor matplotlib::

    >>> figure = lifecycle_figure()
    >>> figure.text.startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = [
    "Svg",
    "bars_figure",
    "context_figure",
    "lifecycle_figure",
    "pages_figure",
    "sequence_figure",
    "timeline_figure",
]

GREEN, GREY, RED, BLUE, INK = "#4caf50", "#cfd8dc", "#e57373", "#64b5f6", "#263238"
FONT = 'font-family="Noto Sans CJK KR, Apple SD Gothic Neo, sans-serif" font-size="12"'


class Svg:
    """An SVG picture: shown by Jupyter, ``text`` is the markup, ``save(path)`` writes it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_svg_(self) -> str:
        return self.text

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.text)


def _svg(width: int, height: int, body: list[str]) -> Svg:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}><rect width="100%" height="100%" fill="white"/>'
    )
    return Svg(head + "".join(body) + "</svg>")


def _box(x: float, y: float, w: float, h: float, fill: str, label: str = "") -> str:
    text = (
        f'<text x="{x + w / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" '
        f'fill="{INK}">{escape(label)}</text>'
        if label
        else ""
    )
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 1):.1f}" height="{h}" fill="{fill}" '
        f'stroke="white"/>{text}'
    )


def _text(x: float, y: float, label: str, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{INK}">{escape(label)}</text>'
    )


def context_figure(
    turns_newest_first: Sequence[Any],
    context: Sequence[Any],
    budget: int,
    *,
    system_prompt: str,
    question: str,
) -> Svg:
    """One bar per token: system prompt and question first, then turns from the newest;
    green = in ``context``, grey = left out. The line is ``budget``; failed turns (never
    sent) are only named below."""
    from .memory import MESSAGE_OVERHEAD, estimate_tokens

    overhead = 2 * MESSAGE_OVERHEAD  # two messages' role markers
    fixed = estimate_tokens(system_prompt) + estimate_tokens(question) + overhead
    texts = {message.text for message in context}
    parts = [("system + 질문", fixed, BLUE)]
    failed = [turn.request_id for turn in turns_newest_first if turn.status == "error"]
    for turn in turns_newest_first:
        if turn.status == "error":
            continue
        cost = estimate_tokens(turn.question) + estimate_tokens(turn.answer) + overhead
        kept = turn.question in texts and turn.answer in texts
        parts.append((turn.request_id, cost, GREEN if kept else GREY))
    total = sum(cost for _, cost, _ in parts)
    scale = 600 / max(total, budget, 1)
    body, x = [], 20.0
    for label, cost, color in parts:
        body.append(_box(x, 30, cost * scale, 34, color, label if cost * scale > 40 else ""))
        x += cost * scale
    line = 20 + budget * scale
    body += [
        f'<line x1="{line:.1f}" y1="18" x2="{line:.1f}" y2="76" stroke="{INK}" stroke-width="2" '
        'stroke-dasharray="4 3"/>',
        _text(line, 14, f"예산 (budget) {budget}", "middle"),
        _text(
            20,
            94,
            "초록: 넣음 · 회색: 뺌 (green kept · grey left out) — 최신 턴부터 (newest first) →",
        ),
        _text(
            20, 112, f"실패한 턴, 늘 뺌 (failed turns, always left out): {', '.join(failed) or '-'}"
        ),
    ]
    return _svg(660, 122, body)


def pages_figure(pages: Sequence[Sequence[str]]) -> Svg:
    """The keys of each page read, one column per ``Query``; arrows are ``ExclusiveStartKey``."""
    rows = max((len(page) for page in pages), default=0)
    body = []
    for column, page in enumerate(pages):
        x = 20 + column * 170
        body.append(_text(x, 18, f"Query {column + 1}: {len(page)}개 (items)"))
        for row, key in enumerate(page):
            short = key.rsplit("#", 1)[-1] if key.startswith("T#") else key
            body.append(_box(x, 26 + row * 24, 140, 22, GREEN, short))
        if column + 1 < len(pages):
            y = 26 + (len(page) - 1) * 24 + 11
            body.append(
                f'<path d="M{x + 142},{y} L{x + 168},{y}" stroke="{INK}" marker-end="url(#a)"/>'
            )
    marker = (
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        f'<path d="M0,0 L8,4 L0,8 z" fill="{INK}"/></marker></defs>'
    )
    footer = 26 + rows * 24 + 16
    body.append(
        _text(20, footer, "→ 다음 Query의 ExclusiveStartKey = 앞 페이지의 LastEvaluatedKey")
    )
    return _svg(max(20 + len(pages) * 170, 460), footer + 10, [marker, *body])


def lifecycle_figure() -> Svg:
    """The life of one turn: claim → context → model stream → deltas → save → End/Error."""
    steps = [
        ("claim R#id", "조건부 쓰기 (conditional put)"),
        ("recent + build_context", "기억 (memory)"),
        ("model.astream", "모델 스트림 (stream)"),
        ("Delta …", "새 조각만 (new text only)"),
        ("save T#시각#id", "상태와 함께 저장 (store)"),
    ]
    body = [
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        f'<path d="M0,0 L8,4 L0,8 z" fill="{INK}"/></marker></defs>'
    ]
    for index, (name, note) in enumerate(steps):
        x = 10 + index * 150
        body += [_box(x, 20, 130, 34, BLUE, name), _text(x + 65, 72, note, "middle", 11)]
        if index:
            body.append(f'<path d="M{x - 20},37 L{x - 2},37" stroke="{INK}" marker-end="url(#a)"/>')
    ends = [
        ("completed → End", GREEN, "끝까지 (to the end)"),
        ("error → Error", RED, "모델 실패 (model failed)"),
        ("interrupted", GREY, "취소·연결 끊김 (cancel, gone)"),
    ]
    for index, (name, color, note) in enumerate(ends):
        y = 96 + index * 38
        body += [
            f'<path d="M675,54 L675,{y + 15} L700,{y + 15}" fill="none" stroke="{INK}" '
            'marker-end="url(#a)"/>',
            _box(702, y, 150, 30, color, name),
            _text(860, y + 19, note),
        ]
    body.append(_text(10, 120, "Start는 claim 뒤에, 저장은 상태와 상관없이 한 번 (one stored turn"))
    body.append(_text(10, 138, "per request, whatever the status)"))
    return _svg(1040, 214, body)


def timeline_figure(arrivals_ms: Sequence[float], sizes: Sequence[int], title: str) -> Svg:
    """When each delta arrived (x, ms) and how long it was (bar height, characters)."""
    end = max(arrivals_ms, default=0) or 1
    tallest = max(sizes, default=0) or 1
    scale = 600 / end
    body = [_text(20, 16, title)]
    for at, size in zip(arrivals_ms, sizes, strict=True):
        height = 4 + 56 * size / tallest
        body.append(_box(20 + at * scale - 1, 86 - height, 3, height, BLUE))
    body += [
        f'<line x1="20" y1="86" x2="620" y2="86" stroke="{INK}"/>',
        _text(20, 102, "0 ms"),
        _text(620, 102, f"{end:.0f} ms", "end"),
    ]
    if arrivals_ms:
        first = 20 + arrivals_ms[0] * scale
        body += [
            f'<line x1="{first:.1f}" y1="24" x2="{first:.1f}" y2="86" stroke="{RED}" '
            'stroke-dasharray="3 3"/>',
            _text(first + 4, 34, f"첫 토큰 (first token) {arrivals_ms[0]:.0f} ms"),
        ]
    return _svg(640, 110, body)


#: The WebSocket sequence: (from lane, to lane, label); lanes are the columns below.
LANES = ["브라우저 (browser)", "API Gateway", "Lambda $default", "DynamoDB", "Bedrock"]
SEQUENCE = [
    (0, 1, "chat {request_id, text} — WebSocket"),
    (1, 2, "$default 이벤트 (connectionId)"),
    (2, 3, "claim R#id + 최근 턴 (recent turns)"),
    (2, 4, "ConverseStream"),
    (4, 2, "contentBlockDelta …"),
    (2, 1, "POST @connections/{id}: start, delta… (50 ms로 합침)"),
    (1, 0, "프레임 (frames) start → delta… → end"),
    (2, 3, "턴 저장 (save the turn, status)"),
]


def sequence_figure() -> Svg:
    """One chat request over the WebSocket: browser → API Gateway → Lambda → DynamoDB /
    Bedrock, and the frames back through the ``@connections`` API."""
    xs = [80 + index * 190 for index in range(len(LANES))]
    bottom = 60 + len(SEQUENCE) * 34
    body = [
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        f'<path d="M0,0 L8,4 L0,8 z" fill="{INK}"/></marker></defs>'
    ]
    for x, lane in zip(xs, LANES, strict=True):
        body += [
            _box(x - 75, 10, 150, 28, BLUE, lane),
            f'<line x1="{x}" y1="38" x2="{x}" y2="{bottom}" stroke="{GREY}" stroke-width="2"/>',
        ]
    for row, (start, end, label) in enumerate(SEQUENCE):
        y = 62 + row * 34
        x1, x2 = xs[start], xs[end]
        step = 4 if x2 > x1 else -4
        body += [
            f'<path d="M{x1},{y} L{x2 - step},{y}" stroke="{INK}" marker-end="url(#a)"/>',
            _text((x1 + x2) / 2, y - 5, label, "middle", 11),
        ]
    return _svg(xs[-1] + 90, bottom + 10, body)


def bars_figure(values: dict[str, float], title: str, unit: str) -> Svg:
    """Horizontal bars, one per ``values`` item, labelled with the value and ``unit``."""
    top = max(values.values(), default=0) or 1
    body = [_text(20, 18, title)]
    for row, (label, value) in enumerate(values.items()):
        y = 30 + row * 30
        body += [
            _text(110, y + 17, label, "end"),
            _box(120, y, 420 * value / top, 24, BLUE),
            _text(126 + 420 * value / top, y + 17, f"{value:,.0f} {unit}"),
        ]
    return _svg(660, 40 + len(values) * 30, body)
