"""The chat page: ``build_app`` makes it over an engine, ``launch`` serves it, ``mount`` puts it on the
HTTP API's app."""

from __future__ import annotations

from qa.chat.app import build_app, launch, mount

__all__ = ["build_app", "launch", "mount"]
