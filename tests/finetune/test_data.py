"""Task data validation: every bad row is named by file and row, or skipped and counted."""

from __future__ import annotations

import json

import pytest

from kedro_gpt.finetune.data import (
    LoadStats,
    TaskDataError,
    chat_conversations,
    labelled_lines,
    labelled_records,
    read_records,
    resolve,
    text_pairs,
)
from tests.conftest import PROJECT_ROOT

TASKS = PROJECT_ROOT / "data" / "01_raw" / "tasks"
PROMPTS, RESPONSES = ["question", "Question"], ["answer", "Best Answer"]


def _jsonl(*records) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


def test_bundled_chat_sets_load():
    faq = (TASKS / "qa_python_faq" / "python_faq_qa.jsonl").read_text(encoding="utf-8")
    tqa = (TASKS / "qa_truthfulqa" / "TruthfulQA.csv").read_text(encoding="utf-8")
    stats = LoadStats()
    convs = chat_conversations("faq.jsonl", faq, PROMPTS, RESPONSES, stats=stats)
    convs += chat_conversations("tqa.csv", tqa, PROMPTS, RESPONSES, stats=stats)
    assert len(convs) + sum(stats.skipped.values()) == stats.read == 175 + 817
    assert convs[0][0]["role"] == "user" and convs[0][1]["role"] == "assistant"


def test_messages_records_keep_their_roles():
    text = _jsonl(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
            ]
        }
    )
    (conv,) = chat_conversations("c.jsonl", text, PROMPTS, RESPONSES)
    assert [m["role"] for m in conv] == ["system", "user", "assistant"]


def test_unknown_role_names_file_and_row():
    text = _jsonl(
        {"question": "a", "answer": "b"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]},
    )
    with pytest.raises(TaskDataError, match=r"c\.jsonl, row 2: message 1: unknown role 'bot'"):
        chat_conversations("c.jsonl", text, PROMPTS, RESPONSES)


def test_missing_column_names_file_and_row():
    text = "question,answer\nq1,a1\n"
    with pytest.raises(
        TaskDataError, match=r"qa\.csv, row 2: missing column: none of \['prompt'\]"
    ):
        chat_conversations("qa.csv", text, ["prompt"], RESPONSES)


def test_empty_texts_are_skipped_and_counted():
    stats = LoadStats()
    text = _jsonl({"question": "q", "answer": "a"}, {"question": " ", "answer": "a"})
    convs = chat_conversations("c.jsonl", text, PROMPTS, RESPONSES, stats=stats)
    assert len(convs) == 1 and stats.as_dict() == {"read": 2, "skipped": {"empty_text": 1}}


def test_bad_json_names_the_row():
    with pytest.raises(TaskDataError, match=r"c\.jsonl, row 2: not valid JSON"):
        read_records("c.jsonl", '{"a": 1}\n{oops\n')


def test_unknown_label_names_file_and_row():
    text = "text,label\ngood film,positive\nmeh,neutral\n"
    with pytest.raises(TaskDataError, match=r"s\.csv, row 3: unknown label 'neutral'"):
        labelled_records("s.csv", text, "text", "label", ["negative", "positive"])


def test_missing_label_column_names_file_and_row():
    with pytest.raises(TaskDataError, match=r"s\.csv, row 2: missing column 'label'"):
        labelled_records("s.csv", "text,sentiment\nok,positive\n", "text", "label", ["positive"])


def test_label_files_count_blank_lines():
    stats = LoadStats()
    rows = labelled_lines("pos.txt", "great\n\nfine\n", "positive", stats)
    assert rows == [("great", "positive"), ("fine", "positive")]
    assert stats.skipped["empty_text"] == 1


def test_text_pairs_read_the_bundled_bible_tsv():
    text = (TASKS / "parallel_bible" / "kjv-web.dev.tsv").read_text(encoding="utf-8")
    pairs = text_pairs("dev.tsv", text, "kjv_en", "web_en")
    assert len(pairs) == 59 and pairs[0][0].startswith("The vision of Obadiah")
    with pytest.raises(TaskDataError, match=r"dev\.tsv, row 2: missing column: none of \['src'\]"):
        text_pairs("dev.tsv", text, "src", "web_en")


def test_unknown_task_file_lists_what_exists():
    with pytest.raises(TaskDataError, match="no such task file.*a.csv"):
        resolve({"a.csv": lambda: ""}, "b.csv")
    assert resolve({"a.csv": lambda: "x"}, "a.csv") == "x"


def test_unsupported_format_is_named():
    with pytest.raises(TaskDataError, match=r"x\.xml: unsupported format"):
        read_records("x.xml", "<a/>")
