"""The context of one turn: system prompt, then the most recent whole turns that fit a
token budget, then the new question.

Memory is *derived per request* from the user's own history — there is no shared or
global conversation object, so nothing can leak between users or across a warm Lambda
(the seed kept one global chain; that is the bug we do not repeat)::

    >>> from chatkit.history import Turn
    >>> turns = [Turn("u", "r2", "그럼 지하철 요금은?", "1,550원입니다."),
    ...          Turn("u", "r1", "서울 여행 추천해줘", "경복궁에 가 보세요.")]
    >>> [m.type for m in build_context(turns, "고마워", system_prompt="친절하게", budget=1000)]
    ['system', 'human', 'ai', 'human', 'ai', 'human']
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import trim_messages

from .history import Turn

__all__ = ["build_context", "count_message_tokens", "estimate_tokens"]

#: Per-message overhead of the chat format (role markers), in tokens.
MESSAGE_OVERHEAD = 4
#: Statuses whose answers are worth remembering (a partial answer still informs).
REMEMBERED = ("completed", "interrupted")


def estimate_tokens(text: str) -> int:
    """A conservative token estimate without a tokenizer download.

    Claude spends about one token per 4 ASCII characters but close to one token per
    Hangul syllable, so non-ASCII characters count as one each.

    >>> estimate_tokens("hello world!"), estimate_tokens("안녕하세요")
    (3, 5)
    """
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


def count_message_tokens(messages: Sequence[BaseMessage]) -> int:
    return sum(estimate_tokens(m.text) + MESSAGE_OVERHEAD for m in messages)


def build_context(
    turns_newest_first: Sequence[Turn],
    question: str,
    *,
    system_prompt: str,
    budget: int,
) -> list[BaseMessage]:
    """Messages for the model: the newest whole turns within ``budget`` tokens.

    The question and system prompt are always kept; older turns go first when the
    budget is tight, a turn (question + answer) is never split, and failed turns
    (status ``error``) are left out.
    """
    history: list[BaseMessage] = []
    for turn in reversed(turns_newest_first):
        if turn.status in REMEMBERED and turn.answer:
            history += [HumanMessage(turn.question), AIMessage(turn.answer)]
    system, ask = SystemMessage(system_prompt), HumanMessage(question)
    room = budget - count_message_tokens([system, ask])
    kept = (
        trim_messages(
            history,
            max_tokens=max(room, 0),
            token_counter=count_message_tokens,
            strategy="last",
            start_on="human",
            end_on="ai",
            allow_partial=False,
        )
        if room > 0
        else []
    )
    return [system, *kept, ask]
