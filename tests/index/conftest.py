"""The index tests' kit: an index kept locally, or in a real Chroma server."""

import uuid

import pytest


@pytest.fixture(params=["local", pytest.param("served", marks=pytest.mark.server)])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: on a local index folder, and with the index in a Chroma server (a collection of
    its own), as every process of the test (and the qa processes it starts) sees it in its settings."""
    if request.param == "served":
        server = request.getfixturevalue("chroma_server")
        for key, value in server.env(f"test-{uuid.uuid4().hex[:12]}").items():
            monkeypatch.setenv(key, value)
    return request.param
