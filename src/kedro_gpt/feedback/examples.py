"""What fine-tuning learns from the feedback table: supervised chat examples and preference pairs.

- An edited answer is the best example there is: the conversation + the corrected answer.
- An up-voted answer (no edit) is an example as it stands.
- Preference pairs (for DPO): for one conversation, every preferred answer (up-voted or edited)
  against every down-voted one, and an edit against the answer it corrected.

Only chat rows (``mode == "chat"``) teach the chat task; completion rows are kept in the table and
counted, not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kedro_gpt.tokenizer.chat import Message

Turns = tuple[tuple[str, str], ...]  # (role, content) of each message: hashable


@dataclass(frozen=True)
class PreferencePair:
    prompt: Turns  # the conversation, ending with the user's turn
    chosen: str
    rejected: str

    @property
    def messages(self) -> list[Message]:
        return _messages(self.prompt)


def _messages(turns: Turns) -> list[Message]:
    return [{"role": role, "content": content} for role, content in turns]


@dataclass
class FeedbackExamples:
    supervised: list[list[Message]] = field(default_factory=list)
    pairs: list[PreferencePair] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _prompt(row: dict[str, Any]) -> Turns | None:
    try:
        messages = json.loads(row["messages"] or "null")
    except (TypeError, ValueError):
        return None
    if not messages or not isinstance(messages, list) or messages[-1].get("role") != "user":
        return None
    return tuple((str(m["role"]), str(m["content"])) for m in messages)


def feedback_examples(table: pd.DataFrame) -> FeedbackExamples:
    """Supervised conversations and preference pairs from the rows of the feedback table."""
    out = FeedbackExamples()
    counts = {"rows": len(table), "chat_rows": 0, "skipped_completion": 0, "skipped_invalid": 0}
    preferred: dict[Turns, set[str]] = {}
    rejected: dict[Turns, set[str]] = {}
    pairs: set[PreferencePair] = set()
    for row in table.to_dict("records"):
        if row["mode"] != "chat":
            counts["skipped_completion"] += 1
            continue
        prompt = _prompt(row)
        if prompt is None:
            counts["skipped_invalid"] += 1
            continue
        counts["chat_rows"] += 1
        answer, edited, rating = (row["answer"] or "").strip(), row["edited_answer"], row["rating"]
        edited = edited.strip() if isinstance(edited, str) else ""
        if edited and edited != answer:
            out.supervised.append([*_messages(prompt), {"role": "assistant", "content": edited}])
            preferred.setdefault(prompt, set()).add(edited)
            if answer:
                pairs.add(PreferencePair(prompt, edited, answer))
        elif rating == 1 and answer:
            out.supervised.append([*_messages(prompt), {"role": "assistant", "content": answer}])
        if answer and rating in (1, -1):
            (preferred if rating == 1 else rejected).setdefault(prompt, set()).add(answer)
    for prompt, good in preferred.items():
        pairs.update(
            PreferencePair(prompt, chosen, bad)
            for chosen in good
            for bad in rejected.get(prompt, ())
            if chosen != bad
        )
    out.pairs = sorted(pairs, key=lambda p: (json.dumps(p.prompt), p.chosen, p.rejected))
    out.counts = {**counts, "supervised": len(out.supervised), "pairs": len(out.pairs)}
    return out
