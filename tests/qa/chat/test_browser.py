"""The chat page as a person uses it: `qa chat` started as a user starts it (with a login), driven in
real headless Chromium (Debian's `chromium`, installed by `make test`) through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import OFFLINE, ROOT, free_port, seed_questions

pytestmark = [pytest.mark.llm, pytest.mark.server, pytest.mark.browser]

QUESTIONS = seed_questions()
ARTIFACTS = ROOT / "test-artifacts"
LOGIN = ("reader", "geheim")
ANSWER_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def chat_url(seed_engine) -> Iterator[str]:
    """`qa chat` over the seed index, on a free port, with QA_AUTH set."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")} | OFFLINE
    env |= {"NO_PROXY": "127.0.0.1,localhost", "QA_AUTH": ":".join(LOGIN)}
    command = [sys.executable, "-m", "qa.cli", "chat", "--index", str(seed_engine.index_dir), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not any("Chat page: " in line for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("qa chat did not start:\n" + "".join(lines))
        time.sleep(0.2)
    assert f"http://127.0.0.1:{port}/ (login required)" in "".join(lines)
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(chat_url) -> Iterator[Page]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is not installed; `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--no-proxy-server"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(chat_url)
        page.get_by_label("username").fill(LOGIN[0])
        page.get_by_label("password").fill(LOGIN[1])
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#qa-question textarea", timeout=60_000)
        yield page
        browser.close()


def _ask(page: Page, question: str):
    """Type the question, see the answer stream in, and return the finished answer message."""
    before = page.locator("#qa-chat .message-content").count()
    page.fill("#qa-question textarea", question)
    page.press("#qa-question textarea", "Enter")
    page.wait_for_selector("#qa-chat .qa-streaming", timeout=ANSWER_TIMEOUT_MS)
    message = page.locator("#qa-chat .message-content").nth(before + 1)
    expect(message.locator(".qa-citations")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return message


def _cited_is_in_view(page: Page) -> bool:
    return page.eval_on_selector(
        "#qa-source-panel mark.qa-cited",
        """mark => {
            const box = mark.closest('.qa-article').getBoundingClientRect();
            const own = mark.getBoundingClientRect();
            return own.top >= box.top - 1 && own.top < box.bottom;
        }""",
    )


def test_ask_in_german_and_english_and_open_the_citations(page):
    german = QUESTIONS["de-08"]
    message = _ask(page, german["question"])
    gold = german["gold"][0]["sentence"]
    expect(message.locator(".qa-answer")).to_contain_text("Wonsan")
    expect(message.locator(".qa-citations")).to_contain_text(gold)

    message.locator("a.qa-cite-item").first.click()
    cited = page.locator("#qa-source-panel mark.qa-cited")
    expect(cited).to_have_text(message.locator(".qa-quote").first.inner_text().strip("„“ "))
    expect(page.locator("#qa-source-panel .qa-source-position")).to_contain_text("Citation 1 of")
    page.wait_for_function("() => document.querySelector('#qa-source-panel .qa-article').scrollTop >= 0")
    assert _cited_is_in_view(page)

    english = QUESTIONS["en-16"]
    message = _ask(page, english["question"])
    expect(message.locator(".qa-answer")).to_contain_text("50")
    quotes = message.locator(".qa-quote")
    expect(quotes.first).to_contain_text("German original")
    message.locator("a.qa-marker").first.click()
    expect(page.locator("#qa-source-panel .qa-original")).to_contain_text("Original sentence (German)")
    expect(page.locator("#qa-source-panel .qa-original blockquote")).to_have_text(cited.inner_text())
    accepted = {g["sentence"] for g in english["gold"]}
    assert accepted & {quote.split(": ", 1)[1].strip("„“ ") for quote in quotes.all_inner_texts()}
    assert _cited_is_in_view(page)

    # The English reader may ask for a machine translation; the German original stays shown above it.
    translation = page.locator("#qa-source-panel .qa-translation")
    expect(translation).to_have_count(0)
    page.get_by_role("button", name="Show an English machine translation").click()
    expect(translation).to_contain_text("Machine translation (by the language model)", timeout=ANSWER_TIMEOUT_MS)
    expect(translation.locator("blockquote")).not_to_be_empty()
    expect(page.locator("#qa-source-panel .qa-original blockquote[lang=de]")).to_have_text(cited.inner_text())

    if quotes.count() > 1:  # step through the answer's citations
        page.click("#qa-next")
        expect(page.locator("#qa-source-panel .qa-source-position")).to_contain_text("Citation 2 of")
        expect(cited).to_have_text(quotes.nth(1).inner_text().split(": ", 1)[1].strip("„“ "))
        expect(translation).to_have_count(0)  # that translation was of the other sentence
        expect(page.locator("#qa-source-panel button.qa-translate")).to_be_visible()
        page.click("#qa-previous")
        expect(translation).to_contain_text("Machine translation", timeout=10_000)  # kept, not asked again

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "chat-browser.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
