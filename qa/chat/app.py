"""The chat page (``qa chat``): a Gradio app over one ``Engine``. It holds no retrieval or prompt logic;
it streams the engine's answers, shows their citations in their articles, and manages the articles."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from index.errors import IndexBusyError, UserError
from qa.answer import Answer, QuotePiece
from qa.articles import ArticleLibrary
from qa.chat import render
from qa.chat.session import ChatSession, Turn
from qa.engine import Engine
from qa.filters import ArticleFilter
from qa.serving import check_address
from qa.settings import Settings
from qa.translation import UnfaithfulTranslationError

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
#: Scroll the source panel so the highlighted sentence is in view (after the panel has rendered).
SCROLL_JS = "() => { window.qaScrollToCited && window.qaScrollToCited(); }"
_BUSY = "Another run is updating the index right now; nothing was changed. Try again in a moment."
_LOGGED = "The server log has the details."
_FAILED = f"Something went wrong while answering; nothing was lost. {_LOGGED} Try again."


class ChatPage:
    """The handlers of the page, bound to one engine and its article library."""

    def __init__(self, engine: Engine, library: ArticleLibrary | None = None):
        self.engine = engine
        self.library = library or ArticleLibrary(engine)

    # Asking -----------------------------------------------------------------------------------------

    def respond(
        self,
        question: str,
        session: ChatSession,
        sentences: float | None,
        show_unverified: bool | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: list[str] | None = None,
    ) -> Iterator[tuple]:
        """Stream the answer to ``question`` into the conversation; the panel then opens its first citation.
        ``show_unverified`` shows an answer that no cited sentence states, marked, instead of withholding it.
        ``since``, ``until`` and ``sources`` answer from the articles of those dates and outlets only; a
        filter that cannot be read or matches no article is a notice in the chat, like other user errors."""
        question = (question or "").strip()
        turn = Turn(question)
        history = session.history()
        session.turns.append(turn)
        number = len(session.turns) - 1
        if not question:
            turn.notice = "Type a question first: about the articles, in German or English."
            yield self._outputs(session, question_box="", final=True)
            return
        yield self._outputs(session, question_box="")
        try:
            # Read here, so that a date that cannot be read is named as the settings label it.
            article_filter = ArticleFilter.parse(since, until, _outlets(sources), names=("Since", "Until"))
            stream = self.engine.stream(
                question,
                history,
                sentences=_count(sentences),
                unverified=_policy(show_unverified),
                since=article_filter.since,
                until=article_filter.until,
                sources=list(article_filter.sources),
            )
            with closing(stream) as pieces:
                for piece in pieces:
                    if isinstance(piece, Answer):
                        turn.answer, turn.partial = piece, None
                    elif isinstance(piece, QuotePiece):
                        turn.quoting = (turn.quoting or "") + piece.text
                        yield self._outputs(session)
                    else:
                        turn.partial = (turn.partial or "") + piece
                        yield self._outputs(session)
        except UserError as error:
            turn.notice = _sentence(str(error))
        except Exception:
            log.exception("answering %r failed", question)
            turn.notice = _FAILED
        if turn.answer is None and turn.notice is None:
            turn.notice = _FAILED
        if turn.answer is not None:
            session.select(number, 0)
        yield self._outputs(session, final=True)

    def _outputs(self, session: ChatSession, question_box: Any = None, final: bool = False) -> tuple:
        """The answer's outputs; the source panel and the details change only when an answer is complete."""
        unchanged = gr.update()
        if final:
            last = next((t.answer for t in reversed(session.turns) if t.answer is not None), None)
            panel, details = self._panel(session), (last.to_dict() if last is not None else None)
        else:
            panel, details = (unchanged, unchanged), unchanged
        return (session.messages(), session, unchanged if question_box is None else question_box, *panel, details)

    def clear(self) -> tuple:
        session = ChatSession()
        return (session.messages(), session, *self._panel(session), None)

    # The source panel -------------------------------------------------------------------------------

    def open_link(self, anchor: str, session: ChatSession) -> tuple:
        """A click on a citation link in the chat (``qa-cite-<turn>-<number>``), or on one of its copies
        in other articles (``qa-cite-<turn>-<number>-<copy>``)."""
        target = render.parse_anchor(anchor)
        if target is not None:
            session.select(*target, copy=render.parse_copy(anchor))
        return (session, *self._panel(session))

    def open_choice(self, choice: str | None, session: ChatSession) -> tuple:
        """A citation chosen in the panel's list."""
        return self.open_link(choice or "", session)

    def step(self, session: ChatSession, delta: int) -> tuple:
        session.step(delta)
        return (session, *self._panel(session))

    def translate(self, session: ChatSession) -> tuple:
        """The selected citation's sentence in English, made by the model on request and kept in the
        session; shown under the German original, which stays the citation."""
        selected = session.selected_citation()
        if selected is None or selected[0].language == "de":
            return session, self._source(session)
        sentence = selected[1].sentence
        problem = None
        if sentence not in session.translations:
            try:
                session.translations[sentence] = self.engine.translate(sentence, "en")
            except UnfaithfulTranslationError as error:  # it invented or dropped a number or a name: none shown
                problem = _sentence(str(error))
            except UserError as error:  # the LLM is down, or refused the text: one sentence, no traceback
                problem = _sentence(f"no machine translation now: {error}")
            except Exception:
                log.exception("translating %r failed", sentence)
                problem = f"The machine translation failed; the German original above is the citation. {_LOGGED}"
        return session, self._source(session, problem)

    def _panel(self, session: ChatSession) -> tuple:
        """The panel's citation list (choices and value) and the article with the sentence marked."""
        if session.selected is None:
            return gr.update(choices=[], value=None), render.empty_source()
        turn, index = session.selected
        answer = session.answer(turn)
        assert answer is not None
        choices = [
            (render.citation_label(n, c), render.cite_anchor(turn, n)) for n, c in enumerate(answer.citations, start=1)
        ]
        return gr.update(choices=choices, value=render.cite_anchor(turn, index + 1)), self._source(session)

    def _source(self, session: ChatSession, translation_problem: str | None = None) -> str:
        """The selected citation in its article; its translation where this session has one (so
        stepping to another citation drops the display, and stepping back shows it again)."""
        if session.selected is None:
            return render.empty_source()
        index = session.selected[1]
        selected = session.selected_citation()
        assert selected is not None
        answer, citation = selected  # the cited sentence, or the copy of it the reader opened
        document = self.engine.documents().get(citation.doc_id)
        return render.source_panel(
            answer,
            index,
            document,
            translation=session.translations.get(citation.sentence),
            translation_problem=translation_problem,
            copy=session.copy,
        )

    # Articles ---------------------------------------------------------------------------------------

    # Gradio gives a handler whose parameter defaults to a Progress the page's progress bar.
    def add_articles(self, files: list[Any] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        paths = [Path(_file_path(f)) for f in files or []]
        if not paths:
            return ("Choose one or more articles, dumps or feeds to add.", *self.articles())
        try:
            result = self.library.add(
                [(p.name, p) for p in paths], progress=lambda done, what: progress(done, desc=what)
            )
            message = _lines(result.message())
        except IndexBusyError:
            message = _BUSY
        except UserError as error:
            message = _sentence(str(error))
        except Exception:
            log.exception("adding %s failed", [p.name for p in paths])
            message = f"The files could not be added; the index is as it was. {_LOGGED}"
        return (message, *self.articles())

    def remove_article(self, doc_id: str | None) -> tuple:
        if not doc_id:
            return ("Choose an article to remove.", *self.articles())
        try:
            message = self.library.remove(doc_id)
        except IndexBusyError:
            message = _BUSY
        except UserError as error:
            message = _sentence(str(error))
        except Exception:
            log.exception("removing %r failed", doc_id)
            message = f"The article could not be removed; the index is as it was. {_LOGGED}"
        return (message, *self.articles())

    def articles(self) -> tuple:
        """The article table, the removal list and the index summary."""
        rows = self.library.articles()
        table = [[a.title, a.date or "", a.publisher or "", a.sentences, a.file_name] for a in rows]
        choices = [(f"{a.title} ({a.file_name})", a.doc_id) for a in rows]
        return table, gr.update(choices=choices, value=None), self.about()

    def filter_choices(self) -> tuple:
        """The outlet picker's choices ("dpa (3)") and the dates the articles span, for the filter settings."""
        choices = [(f"{outlet.name} ({outlet.articles})", outlet.name) for outlet in self.engine.outlets()]
        span = self.engine.date_span()
        return gr.update(choices=choices), _sentence(span.describe()) if span.dated + span.undated else ""

    def about(self) -> str:
        settings = self.engine.settings
        snapshot = self.engine.store.snapshot()
        sentences = sum(len(d.sentences) for d in snapshot.documents.values())
        return (
            f"**Model** {self.engine.llm.description} · **Embeddings** {settings.embed_model}  \n"
            f"**Index** `{self.engine.store.location}`: {len(snapshot)} articles, {sentences} sentences"
        )


def build_app(engine: Engine, library: ArticleLibrary | None = None) -> gr.Blocks:
    """The page. Serve it with ``launch(demo, settings)``."""
    page = ChatPage(engine, library)
    settings = engine.settings
    title = "qa-news: cited answers from the articles"
    # Uploaded files are copied into the index folder; Gradio's own copies are deleted after a day.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        session = gr.State(ChatSession())
        gr.Markdown(
            "## Ask the articles\nQuestions in German or English get an answer in their language, with "
            "every claim cited to the exact article sentence. Click a citation to read it in its article.",
            elem_id="qa-intro",
        )
        with gr.Tab("Chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    show_label=False,
                    height=560,
                    render_markdown=False,
                    feedback_options=None,
                    buttons=["copy"],
                    placeholder="Ask something about the articles, for example “Wer hat sich mit wem getroffen?”",
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="qa-question",
                        show_label=False,
                        placeholder="Ask a question, in German or English; follow-ups use the conversation",
                        max_length=settings.max_question_chars,
                        scale=5,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask")
                with gr.Row():
                    clear = gr.Button("New conversation", size="sm", variant="secondary")
                with gr.Accordion("Settings", open=False, elem_id="qa-settings"):
                    sentences = gr.Slider(
                        1,
                        10,
                        value=settings.prompt_sentences,
                        step=1,
                        label="Sentences the model reads per question",
                        info="More can find answers spread over sentences; fewer answer faster.",
                    )
                    show_unverified = gr.Checkbox(
                        value=settings.unverified == "mark",
                        label="Show answers that no cited sentence states, marked as unverified",
                        info="Off: such an answer is withheld and the page says the articles don't say.",
                        elem_id="qa-show-unverified",
                    )
                    with gr.Row():
                        since = gr.Textbox(
                            label="Since",
                            placeholder="2023-10-05 or 5.10.2023",
                            info="Only articles dated on or after this day",
                            elem_id="qa-since",
                        )
                        until = gr.Textbox(
                            label="Until",
                            placeholder="2023-10-20 or 20.10.2023",
                            info="Only articles dated on or before this day",
                            elem_id="qa-until",
                        )
                    outlet_choices, date_hint = page.filter_choices()
                    outlets = gr.Dropdown(
                        label="Outlets",
                        info="Only articles of these agencies or publishers; none chosen: all",
                        choices=outlet_choices["choices"],
                        value=[],
                        multiselect=True,
                        allow_custom_value=True,
                        elem_id="qa-outlets",
                    )
                    dates = gr.Markdown(date_hint, elem_id="qa-dates")
                    about = gr.Markdown(elem_id="qa-about")
                with gr.Accordion("Answer details (JSON)", open=False):
                    details = gr.JSON(label="Last answer", elem_id="qa-details")
            with gr.Column(scale=2, min_width=320, elem_id="qa-sources"):
                gr.Markdown("### Source")
                picker = gr.Radio(label="Citations of this answer", choices=[], elem_id="qa-picker")
                with gr.Row():
                    previous = gr.Button("◀ Previous", size="sm", elem_id="qa-previous")
                    following = gr.Button("Next ▶", size="sm", elem_id="qa-next")
                source = gr.HTML(render.empty_source(), elem_id="qa-source-panel")
                cite_request = gr.Textbox(elem_id="qa-cite-request", elem_classes=["qa-hidden"], show_label=False)
                # The panel's own "Show an English machine translation" button is HTML; the page's
                # script clicks this one, so the request goes through Gradio's queue and API.
                translate_request = gr.Button("Translate", elem_id="qa-translate-request", elem_classes=["qa-hidden"])
        with gr.Tab("Articles"):
            gr.Markdown(
                f"Add articles (`.txt`, `.md`, `.html`, `.pdf`), dumps of many (`.jsonl`, `.csv`, `.tsv`: one "
                f"article per line or row) or feeds (`.rss`, `.atom`, `.xml`), up to {settings.max_file_mb:g} MB "
                f"each, {settings.max_upload_files} at once. They can be asked about as soon as they are indexed."
            )
            upload = gr.File(label="Add articles", file_count="multiple", elem_id="qa-upload")
            status = gr.Markdown(elem_id="qa-article-status")
            table = gr.Dataframe(
                headers=["Title", "Date", "Agency", "Sentences", "File"],
                interactive=False,
                wrap=True,
                column_widths=["46%", "12%", "14%", "10%", "18%"],
                elem_id="qa-articles",
            )
            with gr.Row():
                chosen = gr.Dropdown(
                    label="Article to remove", choices=[], allow_custom_value=True, scale=4, elem_id="qa-remove-choice"
                )
                remove = gr.Button("Remove from index", variant="stop", scale=1, elem_id="qa-remove")

        panel = [picker, source]
        answer_outputs = [chatbot, session, question, *panel, details]
        gr.on(
            [question.submit, ask.click],
            page.respond,
            [question, session, sentences, show_unverified, since, until, outlets],
            answer_outputs,
            api_name="chat",
        ).then(None, js=SCROLL_JS)
        clear.click(page.clear, None, [chatbot, session, *panel, details], api_name=False)
        cite_request.change(page.open_link, [cite_request, session], [session, *panel], api_name=False).then(
            None, js=SCROLL_JS
        )
        picker.input(page.open_choice, [picker, session], [session, *panel], api_name=False).then(None, js=SCROLL_JS)
        previous.click(lambda s: page.step(s, -1), session, [session, *panel], api_name=False).then(None, js=SCROLL_JS)
        following.click(lambda s: page.step(s, 1), session, [session, *panel], api_name=False).then(None, js=SCROLL_JS)
        translate_request.click(page.translate, session, [session, source], api_name="translate").then(
            None, js=SCROLL_JS
        )
        article_outputs = [table, chosen, about]
        filter_outputs = [outlets, dates]
        added = upload.upload(page.add_articles, upload, [status, *article_outputs], api_name="add_articles")
        added.then(lambda: None, None, upload, api_name=False)
        added.then(page.filter_choices, None, filter_outputs, api_name=False)
        removed = remove.click(page.remove_article, chosen, [status, *article_outputs], api_name="remove_article")
        removed.then(page.filter_choices, None, filter_outputs, api_name=False)
        demo.load(page.articles, None, article_outputs, api_name=False).then(
            page.filter_choices, None, filter_outputs, api_name=False
        )
    return demo


def launch(demo: gr.Blocks, settings: Settings, share: bool = False, block: bool = True) -> str:
    """Serve ``demo`` with the queue on, as the settings say (address, port, login); returns the URL."""
    check_address(settings)
    demo.queue(default_concurrency_limit=settings.chat_concurrency)
    try:
        _, url, _ = demo.launch(
            server_name=settings.chat_host,
            server_port=settings.chat_port,
            share=share,
            prevent_thread_lock=not block,
            quiet=True,
            **_page_options(settings),
        )
    except OSError as error:
        raise UserError(f"cannot serve on {settings.chat_host}:{settings.chat_port}: {error}") from error
    return url


def mount(app: FastAPI, demo: gr.Blocks, settings: Settings) -> FastAPI:
    """The chat page at ``/`` of ``app`` (the HTTP API), with the queue on and the same login."""
    demo.queue(default_concurrency_limit=settings.chat_concurrency)
    return gr.mount_gradio_app(app, demo, path="/", **_page_options(settings))


def _page_options(settings: Settings) -> dict[str, Any]:
    return {
        "auth": settings.login,
        "auth_message": "Log in to ask questions of the articles.",
        "max_file_size": settings.max_file_bytes,
        "show_error": False,
        "footer_links": ["api"],
        "theme": gr.themes.Soft(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"]),
        "css": (ASSETS / "chat.css").read_text(encoding="utf-8"),
        "js": (ASSETS / "chat.js").read_text(encoding="utf-8"),
    }


def _lines(message: str) -> str:
    """Several lines as a Markdown list, so each file's outcome stands on its own line."""
    lines = message.splitlines() or [""]
    lines = [html.escape(line, quote=False) for line in lines]
    return lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)


def _policy(show_unverified: bool | None) -> str | None:
    return None if show_unverified is None else ("mark" if show_unverified else "abstain")


def _outlets(value: list[str] | str | None) -> list[str] | None:
    """The picker's outlets; a program calling the page's API may give one as a string."""
    if isinstance(value, str):
        value = [value]
    return [outlet for outlet in value or [] if outlet and outlet.strip()] or None


def _count(value: float | None) -> int | None:
    return None if value is None else int(value)


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


def _file_path(item: Any) -> str:
    """Gradio passes uploads as paths (or objects with ``.name``/``path``), in its own temporary folder."""
    if isinstance(item, str | Path):
        return str(item)
    if isinstance(item, dict):
        return str(item.get("path") or item.get("name"))
    return str(getattr(item, "path", None) or item.name)
