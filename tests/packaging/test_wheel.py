"""The wheel as a user gets it: built from the checkout, installed into a fresh virtual environment
outside it, with the prompts and the seed articles inside the package, and ``qa`` answering from there."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What the build reads: the fixed top level of the repository, without tests and benchmarks.
SOURCES = ("pyproject.toml", "README.md", "qa", "index", "prompts", "seeds")
QUESTION_ID = "de-01"  # answered by the embedded model (tests/qa/answering/test_chain_real_model.py)

# Offline: model hubs are not asked, and any other attempt goes to a closed local port.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
}

# Run in the fresh environment: where qa and its data come from, and whether the checkout shows.
PROBE = """
import json, sys
import qa, qa.prompts, qa.settings
print(json.dumps({
    "qa": qa.__file__,
    "prompts": str(qa.prompts.PROMPTS),
    "seeds": str(qa.settings.SEEDS),
    "sys_path": sys.path,
    "editable": [name for name in sys.modules if "__editable__" in name]
    + [repr(f) for f in sys.meta_path if "__editable__" in getattr(f, "__module__", "")],
}))
"""


def run(command: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the checkout's sources (the build writes build/ and *.egg-info
    next to its sources, and the checkout stays as it is) without build isolation, so offline."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    offline = ("--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir")
    built = run([sys.executable, "-m", "pip", "wheel", *offline, "--wheel-dir", str(work / "dist"), str(source)])
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (work / "dist").glob("qa_news-*.whl")
    return found


def test_wheel_holds_every_module_the_prompts_the_seeds_and_the_chat_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for package in ("qa", "index") for p in (ROOT / package).rglob("*.py")}
    modules = {m for m in modules if "__pycache__" not in m}
    assert modules - names == set(), "a package missing from [tool.setuptools] packages in pyproject.toml"
    for folder, data in (("prompts", "qa/_data/prompts"), ("seeds", "qa/_data/seeds")):
        shipped = {p.name for p in (ROOT / folder).iterdir() if p.is_file()}
        assert {f"{data}/{name}" for name in shipped} <= names
    assert "qa/_data/seeds/questions.jsonl" in names
    assert {f"qa/chat/assets/{p.name}" for p in (ROOT / "qa/chat/assets").iterdir()} <= names
    assert not {n for n in names if n.startswith(("prompts/", "seeds/", "tests/"))}, "data outside the package"


@pytest.mark.llm
def test_installed_wheel_indexes_its_seeds_and_answers_with_a_citation(wheel, tmp_path):
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # The heavy dependencies (torch, chromadb, llama-cpp, the models) come from the project's .venv: its
    # site-packages is appended to sys.path by a plain path line, so the .pth files in it (the editable
    # install's finder among them) are not processed, and the checkout stays invisible.
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout
    site_packages = Path(purelib.strip()).resolve()
    borrowed = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "qa_news_test_deps.pth").write_text("".join(f"{path}\n" for path in borrowed))

    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") or k == "QA_MODEL_DIR"}
    env.pop("PYTHONPATH", None)
    env |= OFFLINE | {"QA_INDEX_DIR": str(tmp_path / "index")}

    probe = run([str(python), "-c", PROBE], cwd=tmp_path, env=env)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["qa"]).resolve() == site_packages / "qa" / "__init__.py", found["qa"]
    assert Path(found["prompts"]).resolve() == site_packages / "qa" / "_data" / "prompts"
    assert Path(found["seeds"]).resolve() == site_packages / "qa" / "_data" / "seeds"
    assert found["editable"] == [], "the editable install's finder ran in the fresh environment"
    assert not [p for p in found["sys_path"] if p and Path(p).resolve() == ROOT], "the checkout is on sys.path"
    assert all(path in found["sys_path"] for path in borrowed)

    seeds = Path(found["seeds"])
    seed_ids = {p.stem for p in seeds.glob("*.txt")}
    lines = (seeds / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    question = next(q for q in map(json.loads, filter(str.strip, lines)) if q["id"] == QUESTION_ID)

    qa = str(venv / "bin" / "qa")
    indexed = run([qa, "index"], cwd=tmp_path, env=env, timeout=900)  # no path: the shipped seeds
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    assert f": {len(seed_ids)} documents, " in indexed.stdout, indexed.stdout
    asked = run([qa, "ask", question["question"]], cwd=tmp_path, env=env, timeout=900)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    cited = re.findall(r"^\s+(\S+), sentence \d+: ", asked.stdout, flags=re.MULTILINE)
    assert cited and set(cited) <= seed_ids, asked.stdout
    assert (tmp_path / "index").is_dir()
