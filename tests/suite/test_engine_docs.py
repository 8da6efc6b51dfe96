"""The complete small engine of docs/engines.md runs, registered the way the page says."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from suite import matrix
from suite.engines import registry
from suite.results import ResultsStore
from suite.run.driver import MatrixRunner, RunOptions

DOC = Path(__file__).resolve().parents[2] / "docs" / "engines.md"

MATRIX = """
name = "docs"
[defaults]
engines = ["scratch", "scratch64:cpu"]
seeds = [0]
epochs = 2
[[experiment]]
name = "digits"
datasets = ["digits8x8"]
architectures = ["densenet2_20"]
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_documented_engine_runs_beside_scratch(monkeypatch, tmp_path):
    engine_code, registration = python_blocks(DOC.read_text())
    module = types.ModuleType("suite.engines.scratch64")
    exec(compile(engine_code, "docs/engines.md", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "suite.engines.scratch64", module)
    monkeypatch.setitem(registry.ENGINES, "scratch64", None)  # removed again after the test
    exec(registration, {"ENGINES": registry.ENGINES, "EngineEntry": registry.EngineEntry})
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
    parsed = matrix.parse_matrix(MATRIX, "docs.toml")
    options = RunOptions(out_dir=tmp_path / "out", quiet=True, threads=1, inline=True)
    summary = MatrixRunner(parsed, options).run()
    assert summary.stored == {"success": 2}
    records = ResultsStore(tmp_path / "out" / "results.jsonl").read().records
    by_engine = {record["engine"]: record for record in records}
    assert set(by_engine) == {"scratch", "scratch64:cpu"}
    first, second = by_engine["scratch"], by_engine["scratch64:cpu"]
    assert (
        first["training"]["initial_weights_sha256"]
        == (second["training"]["initial_weights_sha256"])
    )
    # the same net, data and start in float32 and float64: the first loss agrees closely
    assert first["curves"]["loss"][0] == pytest.approx(second["curves"]["loss"][0], rel=1e-4)
