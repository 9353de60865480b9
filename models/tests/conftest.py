"""Fixtures for the tests of the Python backbone tools in models/.

Real-data tests read the read-only ``shared`` folder beside the repository root (real TFLite
backbones, ImageNet check images) in place and skip with a clear message when it is absent,
as in a user's fresh clone; CI provides it. Tests that need the Go binary build bin/lessdata
(or use $LESSDATA_BIN), and skip when there is neither a Go toolchain nor a binary.

Values worth seeing (logit correlations, probabilities) are collected with the ``report``
fixture and printed in pytest's terminal summary, so they show even with -q.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
SHARED_DIR = REPO_ROOT.parent / "shared"

sys.path.insert(0, str(MODELS_DIR))

_report_lines: list[str] = []


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding go.mod)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder beside the repository root; skips the test when it is absent."""
    if not (SHARED_DIR / "README.md").is_file():
        pytest.skip(f"{SHARED_DIR} not found beside the repository: real-data test skipped (CI provides it)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def lessdata_bin() -> Path:
    """$LESSDATA_BIN when set, else bin/lessdata built afresh with `go build` (incremental, so
    a binary older than the sources never answers); skips the test when Go is not installed."""
    if os.environ.get("LESSDATA_BIN"):
        return Path(os.environ["LESSDATA_BIN"])
    binary = REPO_ROOT / "bin" / "lessdata"
    go = shutil.which("go")
    if go is None:
        if binary.is_file():
            return binary
        pytest.skip("bin/lessdata is missing and there is no `go` to build it: test skipped")
    subprocess.run([go, "build", "-o", str(binary), "./cmd/lessdata"], cwd=REPO_ROOT, check=True)
    return binary


@pytest.fixture(scope="session")
def fetch_backbone(lessdata_bin: Path, shared_dir: Path, tmp_path_factory) -> Callable[[str], Path]:
    """Returns a function that fetches a named backbone from the shared mirror into a cache
    private to this test session, and returns its folder. Each backbone is fetched once."""
    cache = tmp_path_factory.mktemp("ld-cache")
    fetched: dict[str, Path] = {}

    def fetch(name: str) -> Path:
        if name not in fetched:
            out = subprocess.run(
                [str(lessdata_bin), "backbones", "fetch", name,
                 "--mirror", str(shared_dir / "backbones"), "--cache-dir", str(cache)],
                cwd=REPO_ROOT, capture_output=True, text=True,
            )
            if out.returncode != 0:
                pytest.fail(f"lessdata backbones fetch {name} failed:\n{out.stderr}")
            fetched[name] = Path(out.stdout.strip().splitlines()[-1])
        return fetched[name]

    return fetch


@pytest.fixture
def report() -> Callable[[str], None]:
    """Returns a function that adds a line to the terminal summary of this pytest run."""
    return _report_lines.append


def pytest_terminal_summary(terminalreporter) -> None:
    """Prints the lines the tests reported."""
    if _report_lines:
        terminalreporter.section("measured values")
        for line in _report_lines:
            terminalreporter.write_line(line)
