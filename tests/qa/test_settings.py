from pathlib import Path

import pytest

from qa.settings import SEEDS, Settings, SettingsError


def test_defaults_then_environment_then_overrides(monkeypatch):
    monkeypatch.delenv("QA_TOP_K", raising=False)
    assert Settings.load().top_k == 8 and Settings.load().corpus == SEEDS
    monkeypatch.setenv("QA_TOP_K", "5")
    monkeypatch.setenv("QA_INDEX_DIR", "/tmp/some-index")
    monkeypatch.setenv("QA_CHROMA_HOST", "chroma.local")
    settings = Settings.load()
    assert (settings.top_k, settings.index_dir, settings.chroma_host) == (5, Path("/tmp/some-index"), "chroma.local")
    assert Settings.load(top_k=3, index_dir=None).top_k == 3  # None means "not given"


def test_bad_values_get_one_clear_error(monkeypatch):
    monkeypatch.setenv("QA_CHUNK_TOKENS", "many")
    with pytest.raises(SettingsError, match="QA_CHUNK_TOKENS"):
        Settings.load()
    monkeypatch.delenv("QA_CHUNK_TOKENS")
    with pytest.raises(SettingsError, match="must be positive"):
        Settings.load(top_k=0)
    with pytest.raises(SettingsError, match="unknown setting 'topk'"):
        Settings.load(topk=3)


def test_chat_login_from_qa_auth(monkeypatch):
    monkeypatch.delenv("QA_AUTH", raising=False)
    assert Settings.load().login is None
    monkeypatch.setenv("QA_AUTH", "reader:geheim:mit:doppelpunkt")
    assert Settings.load().login == ("reader", "geheim:mit:doppelpunkt")
    for bad in ("reader", "reader:", ":geheim", " :x"):
        monkeypatch.setenv("QA_AUTH", bad)
        with pytest.raises(SettingsError, match="QA_AUTH"):
            Settings.load()
    monkeypatch.delenv("QA_AUTH")
    with pytest.raises(SettingsError, match="chat_port"):
        Settings.load(chat_port=0)
    assert (Settings.load().chat_host, Settings.load().chat_port) == ("127.0.0.1", 7860)
