"""Fixtures for the Python cross-checks of lessdata's Go numerics (solvers, metrics, exports).

Each test builds its inputs with numpy, runs a small Go program of the repository on them
(``go_run``), and compares the Go answer with a reference library (scikit-learn, scipy,
TensorFlow). The Go programs live under ``internal/pycheck/`` and read and write JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding go.mod)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared folder; tests that need it skip when it is absent."""
    if not (SHARED_DIR / "README.md").is_file():
        pytest.skip("../shared not found beside the repository: real-data test skipped")
    return SHARED_DIR


@pytest.fixture(scope="session")
def go_run(tmp_path_factory):
    """Returns run(package, payload) -> dict: runs `go run ./<package>` with payload as JSON on
    standard input and returns the JSON it prints. Skips when there is no Go toolchain."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain")
    bindir = tmp_path_factory.mktemp("gobin")
    built: dict[str, Path] = {}

    def run(package: str, payload) -> dict:
        if package not in built:
            exe = bindir / package.replace("/", "_")
            subprocess.run([go, "build", "-o", str(exe), "./" + package], cwd=REPO_ROOT, check=True)
            built[package] = exe
        out = subprocess.run([str(built[package])], input=json.dumps(payload).encode(), cwd=REPO_ROOT,
                             check=True, capture_output=True)
        return json.loads(out.stdout)

    return run
