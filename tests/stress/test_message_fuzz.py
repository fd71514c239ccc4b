"""Coverage-guided fuzzing of the wire message parser with atheris (tests/stress/fuzz_messages.py),
run in a subprocess because libFuzzer ends the process it runs in.

20,000 inputs by default (a few seconds); ``VEIL_ATHERIS_RUNS=1000000`` for a long run. Skipped
only when atheris is not installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

from tests.stress.fuzz_messages import TARGETS, seeds

RUNS = int(os.environ.get("VEIL_ATHERIS_RUNS", "20000"))
ROOT = Path(__file__).resolve().parents[2]


def fuzz(tmp_path: Path, runs: int, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    count = tmp_path / "executed"
    result = subprocess.run(
        [sys.executable, "-m", "tests.stress.fuzz_messages", str(count), f"-runs={runs}", "-seed=1",
         "-max_len=4096", f"-artifact_prefix={tmp_path}/", *extra, str(corpus)],
        capture_output=True, text=True, cwd=ROOT, timeout=max(120, runs // 200), check=False,
    )
    return result, count, corpus


@pytest.mark.timeout(max(180, RUNS // 150))
def test_the_message_parser_survives_coverage_guided_fuzzing(tmp_path: Path) -> None:
    result, count, corpus = fuzz(tmp_path, RUNS)
    assert result.returncode == 0, result.stderr[-4000:]
    assert int(count.read_text()) >= RUNS  # the target really ran that many inputs
    assert f"Done {RUNS} runs" in result.stderr
    # coverage-guided: beyond the seeds (one per parser), inputs reaching new code were kept
    assert len(seeds()) == len(TARGETS)
    assert len(list(corpus.iterdir())) > 2 * len(TARGETS)


@pytest.mark.timeout(180)
def test_an_exception_other_than_a_protocol_error_fails_the_run(tmp_path: Path) -> None:
    result, _, _ = fuzz(tmp_path, 1000, "--plant-bug")
    assert result.returncode != 0
    assert "IndexError: planted bug" in result.stdout + result.stderr
    assert list(tmp_path.glob("crash-*"))  # the input that crashed is kept for replay
