"""The playground page in a real browser (Debian's Chromium driven by Playwright) against a real
server on loopback: a streamed chat answer, a rating with a comment and an edited answer that
becomes a row of the feedback database, the stop button, and the API key kept out of URLs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from .conftest import running_server
from .tiny_bundle import make_tiny_bundle

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no system Chromium (`make test` installs Debian's with apt where it may)",
    ),
]
KEY = "pg-secret-key"


@pytest.fixture(scope="module")
def slow_bundle(shakespeare_text):
    """The tiny model, 20 ms a token: an answer arrives in many pieces, and can be stopped."""
    bundle = make_tiny_bundle(shakespeare_text[:100_000])
    bundle.info = {**bundle.info, "lineage": {"registered_version": "4"}}
    block = bundle.model.transformer.h[0]  # a hooked module: the step-by-step decode path
    block.register_forward_pre_hook(lambda module, args: time.sleep(0.02))
    return bundle


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_chat_stream_rate_edit_and_find_the_row(browser, slow_bundle, tmp_path):
    db = tmp_path / "feedback.db"
    with running_server(
        slow_bundle, api_key=KEY, feedback_url=f"sqlite:///{db}", max_tokens_limit=256
    ) as url:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        requests = []
        page.on("request", lambda r: requests.append((r.url, r.headers.get("authorization"))))
        page.goto(url)
        page.wait_for_function("document.getElementById('model').textContent.includes('4')")
        assert page.text_content("#model") == "model: kedro-gpt version 4"

        page.fill("#api_key", KEY)
        page.fill("#max_tokens", "40")
        page.fill("#temperature", "0.7")
        page.fill("#seed", "7")  # sampled, yet the same answer on every run
        page.fill("#prompt", "Who wrote Hamlet?")
        # count how many times the answer grows: streamed tokens arrive one by one
        page.evaluate(
            """() => { window.growth = 0; new MutationObserver((changes) => {
                 for (const c of changes) if (c.target.closest && c.target.closest('.assistant')
                     || c.target.parentElement && c.target.parentElement.closest('.assistant'))
                   window.growth++; })
               .observe(document.getElementById('log'),
                        {subtree: true, childList: true, characterData: true}); }"""
        )
        page.click("#send")
        page.wait_for_function(
            "document.getElementById('state').textContent.startsWith('finished')", timeout=60_000
        )
        answer = page.text_content(".assistant .text")
        assert answer and page.evaluate("window.growth") > 5

        page.click(".assistant .rate-up")
        page.fill(".assistant .comment", "close, but not quite")
        page.click(".assistant .edit")
        # starts from the answer; a textarea's value has its line breaks as LF (HTML spec), and
        # the untrained model's bytes can hold a CR
        as_textarea = answer.replace("\r\n", "\n").replace("\r", "\n")
        assert page.input_value(".assistant .edited") == as_textarea
        page.fill(".assistant .edited", "William Shakespeare wrote Hamlet.")
        page.click(".assistant .send-feedback")
        page.wait_for_function(
            "document.querySelector('.assistant .status').textContent.startsWith('saved')"
        )
        shot = Path(os.environ.get("KEDRO_GPT_SCREENSHOTS", tmp_path)) / "playground.png"
        page.screenshot(path=str(shot), full_page=True)

        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            (row,) = [dict(r) for r in conn.execute("SELECT * FROM feedback")]
        saved_id = int(page.text_content(".assistant .status").strip("saved (#)"))
        assert row["id"] == saved_id
        assert json.loads(row["messages"]) == [{"role": "user", "content": "Who wrote Hamlet?"}]
        assert (row["mode"], row["answer"], row["rating"]) == ("chat", answer, 1)
        assert row["edited_answer"] == "William Shakespeare wrote Hamlet."
        assert row["comment"] == "close, but not quite"
        assert (row["model_name"], row["model_version"]) == ("kedro-gpt", "4")
        assert json.loads(row["sampling"]) == {
            "temperature": 0.7,
            "top_p": 0.95,
            "max_tokens": 40,
            "seed": 7,
        }

        assert all(KEY not in u for u, _ in requests) and KEY not in page.url
        api_calls = [auth for u, auth in requests if "/v1/" in u]
        assert api_calls and all(auth == f"Bearer {KEY}" for auth in api_calls)

        # the same seed in a new conversation gives the same answer; a blank seed samples afresh
        for seed, same in (("7", True), ("", False)):
            page.click("#clear")
            page.fill("#seed", seed)
            page.fill("#prompt", "Who wrote Hamlet?")
            page.click("#send")
            page.wait_for_function(
                "document.getElementById('state').textContent.startsWith('finished')",
                timeout=60_000,
            )
            assert (page.text_content(".assistant .text") == answer) is same


def test_completion_mode_and_the_stop_button(browser, slow_bundle, tmp_path):
    with running_server(
        slow_bundle, feedback_url=f"sqlite:///{tmp_path / 'f.db'}", max_tokens_limit=512
    ) as url:
        page = browser.new_page()
        page.goto(url)
        page.select_option("#mode", "completion")
        page.fill("#max_tokens", "500")
        page.fill("#prompt", "ROMEO:")
        page.click("#send")
        page.wait_for_function("document.querySelector('.assistant .text').textContent.length > 0")
        page.click("#stop")
        page.wait_for_function("document.getElementById('state').textContent === 'stopped'")
        assert page.is_enabled("#send") and page.is_disabled("#stop")
        assert page.locator(".prompt .text").text_content() == "ROMEO:"
        assert len(page.text_content(".assistant .text")) > 0


def test_a_wrong_key_is_shown_not_swallowed(browser, slow_bundle):
    with running_server(slow_bundle, api_key=KEY) as url:
        page = browser.new_page()
        page.goto(url)
        page.fill("#api_key", "wrong")
        page.fill("#prompt", "Hello")
        page.click("#send")
        page.wait_for_selector(".assistant .error")
        assert "API key" in page.text_content(".assistant .error")
