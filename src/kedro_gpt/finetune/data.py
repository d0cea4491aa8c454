"""Task data: read CSV / TSV / JSONL / plain-line files into validated examples.

Every problem names the file and the row (1-based line of the file, the header being line 1):
a missing column or an unknown label or role is a :class:`TaskDataError`; an empty text is
skipped and counted (``skipped`` in the returned stats), since dropping it loses nothing else.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kedro_gpt.tokenizer.chat import ROLE_TOKENS, Message, render_chat

Record = dict[str, Any]


class TaskDataError(ValueError):
    """Bad task data; the message names the file and the row."""

    def __init__(self, name: str, row: int | None, problem: str) -> None:
        where = f"{name}, row {row}" if row is not None else name
        super().__init__(f"{where}: {problem}")


@dataclass
class LoadStats:
    """What was read and what was skipped (by reason)."""

    read: int = 0
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "skipped": dict(self.skipped)}


def read_records(name: str, text: str) -> list[tuple[int, Record]]:
    """``(row, record)`` pairs of a ``.jsonl``, ``.csv`` or ``.tsv`` file's text."""
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix in {"jsonl", "json"}:
        out = []
        for row, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise TaskDataError(name, row, f"not valid JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise TaskDataError(name, row, "each JSONL line must be an object")
            out.append((row, record))
        return out
    if suffix in {"csv", "tsv"}:
        reader = csv.DictReader(
            io.StringIO(text),
            delimiter="\t" if suffix == "tsv" else ",",
            quoting=csv.QUOTE_NONE if suffix == "tsv" else csv.QUOTE_MINIMAL,
        )
        if not reader.fieldnames:
            raise TaskDataError(name, None, "the file is empty (no header row)")
        # line_num is the reader's line after the record: the record's last line
        return [(reader.line_num, dict(record)) for record in reader]
    raise TaskDataError(name, None, f"unsupported format '.{suffix}' (use .jsonl, .csv or .tsv)")


def _field(name: str, row: int, record: Record, keys: Sequence[str]) -> str:
    for key in keys:
        if key in record:
            value = record[key]
            if value is None:
                return ""
            if not isinstance(value, str):
                raise TaskDataError(name, row, f"column {key!r} must be text, got {value!r}")
            return value
    raise TaskDataError(
        name, row, f"missing column: none of {list(keys)} (the row has {sorted(record)})"
    )


def chat_conversations(
    name: str,
    text: str,
    prompt_keys: Sequence[str],
    response_keys: Sequence[str],
    system_prompt: str | None = None,
    stats: LoadStats | None = None,
) -> list[list[Message]]:
    """Conversations from ``messages`` records or prompt/response pairs.

    Unknown roles, non-text content and missing columns raise; conversations with an empty
    message, or without an assistant turn to learn from, are skipped and counted.
    """
    stats = stats if stats is not None else LoadStats()
    out: list[list[Message]] = []
    for row, record in read_records(name, text):
        stats.read += 1
        if "messages" in record:
            messages = record["messages"]
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise TaskDataError(name, row, "'messages' must be a list of objects")
            try:
                render_chat(messages)
            except ValueError as err:
                raise TaskDataError(name, row, f"{err} (roles: {', '.join(ROLE_TOKENS)})") from None
            conversation = [{"role": m["role"], "content": m["content"]} for m in messages]
        else:
            prompt = _field(name, row, record, prompt_keys)
            response = _field(name, row, record, response_keys)
            conversation = [{"role": "user", "content": prompt}]
            conversation.append({"role": "assistant", "content": response})
            if system_prompt:
                conversation.insert(0, {"role": "system", "content": system_prompt})
        if any(not m["content"].strip() for m in conversation):
            stats.skipped["empty_text"] += 1
            continue
        if conversation[-1]["role"] != "assistant":
            stats.skipped["no_final_assistant_turn"] += 1
            continue
        out.append(conversation)
    return out


def labelled_lines(name: str, text: str, label: str, stats: LoadStats | None = None):
    """``(text, label)`` for every line of a one-text-per-line file; blank lines are counted."""
    stats = stats if stats is not None else LoadStats()
    out = []
    for line in text.splitlines():
        stats.read += 1
        if not line.strip():
            stats.skipped["empty_text"] += 1
            continue
        out.append((line.strip(), label))
    return out


def labelled_records(
    name: str,
    text: str,
    text_column: str,
    label_column: str,
    labels: Sequence[str],
    stats: LoadStats | None = None,
) -> list[tuple[str, str]]:
    """``(text, label)`` rows of a CSV/JSONL file; unknown labels and missing columns raise."""
    stats = stats if stats is not None else LoadStats()
    allowed = {str(x) for x in labels}
    out = []
    for row, record in read_records(name, text):
        stats.read += 1
        body = _field(name, row, record, [text_column])
        if label_column not in record:
            raise TaskDataError(name, row, f"missing column {label_column!r}")
        label = str(record[label_column]).strip()
        if label not in allowed:
            raise TaskDataError(
                name, row, f"unknown label {label!r}; allowed: {', '.join(sorted(allowed))}"
            )
        if not body.strip():
            stats.skipped["empty_text"] += 1
            continue
        out.append((body.strip(), label))
    return out


def text_pairs(
    name: str,
    text: str,
    source_column: str,
    target_column: str,
    stats: LoadStats | None = None,
) -> list[tuple[str, str]]:
    """``(source, target)`` rows; a missing column raises, an empty side is counted and skipped."""
    stats = stats if stats is not None else LoadStats()
    out = []
    for row, record in read_records(name, text):
        stats.read += 1
        source = _field(name, row, record, [source_column])
        target = _field(name, row, record, [target_column])
        if not source.strip() or not target.strip():
            stats.skipped["empty_text"] += 1
            continue
        out.append((source.strip(), target.strip()))
    return out


def pair_conversation(source: str, target: str | None, instruction: str | None) -> list[Message]:
    """A source/target pair as a chat turn (``target`` None: the prompt only)."""
    messages: list[Message] = [{"role": "system", "content": instruction}] if instruction else []
    messages.append({"role": "user", "content": source})
    if target is not None:
        messages.append({"role": "assistant", "content": target})
    return messages


def resolve(files: Mapping[str, Any], name: str) -> str:
    """The text of task file ``name`` from a mapping of name → text or → loader callable."""
    if name not in files:
        known = ", ".join(sorted(files)) or "none"
        raise TaskDataError(name, None, f"no such task file (the task folder holds: {known})")
    value = files[name]
    return value() if callable(value) else value
