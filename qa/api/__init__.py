"""The HTTP JSON API (``qa serve``): ``build_api`` makes it over an engine, ``ApiServer`` serves it,
``AnswerClient`` asks a running server (``qa ask --server``)."""

from qa.api.app import build_api
from qa.api.client import AnswerClient
from qa.api.server import ApiServer

__all__ = ["AnswerClient", "ApiServer", "build_api"]
