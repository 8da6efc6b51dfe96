"""The matrix runner with small scratch models standing in for the catalog and Keras.

The real engines need ``suite.catalog`` and Keras; here both "engines" are tiny
scratch_cnn nets, so the orchestration (identical data, same init, records, failures,
divergence, skipped data sets, resume, Ctrl-C) is checked in seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from suite import matrix
from suite.engines.scratch import ScratchEngine
from suite.engines.spec import parse_engine_spec
from suite.results import ResultsStore
from suite.run.data import DataCache
from suite.run.driver import DeviceUnavailableError, MatrixRunner, RunOptions
from suite.run.plan import rotated
from suite.timing import ThreadSettings

MATRIX = """
name = "test"
[defaults]
engines = ["scratch", "keras"]
seeds = [0, 1]
epochs = 2
batch_size = 64
optimizer = "sgd"
learning_rate = 0.1

[[experiment]]
name = "digits"
datasets = ["digits8x8"]
architectures = ["tiny_dense"]
"""


def tiny_lookup(name):
    shapes = {"digits8x8": ((8, 8, 1), 10), "mnist": ((28, 28, 1), 10)}
    if name not in shapes:
        raise KeyError(name)
    return matrix.DatasetShape(*shapes[name])


def resolve(architecture, overrides):
    return {"optimizer": "sgd", "learning_rate": 0.1, "batch_size": 64, "epochs": 2, **overrides}


def load(text: str) -> matrix.Matrix:
    return matrix.parse_matrix(
        text, "test.toml", tiny_lookup, ["tiny_dense"], lambda *a: None, resolve
    )


def tiny_configs(cell, input_shape, num_classes, seed):
    """A two-layer net in Keras config form, in place of a catalog architecture."""
    model = {
        "name": "tiny_dense",
        "dtype": "float32",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, *input_shape]}},
            {"class_name": "Flatten", "config": {}},
            {"class_name": "Dense", "config": {"units": 16, "activation": "relu"}},
            {"class_name": "Dense", "config": {"units": num_classes, "activation": "softmax"}},
        ],
    }
    optimizer = {
        "class_name": "SGD",
        "config": {"learning_rate": cell.hyperparameters["learning_rate"]},
    }
    return model, {
        "optimizer": optimizer,
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
    }


class TinyEngine(ScratchEngine):
    """The scratch engine under another spec, with failure switches, run in this process."""

    def __init__(
        self,
        spec: str,
        fail_build: bool = False,
        diverge: bool = False,
        interrupt_after: int | None = None,
    ) -> None:
        super().__init__(parse_engine_spec(spec))
        self.fail_build = fail_build
        self.diverge = diverge
        self.interrupt_after = interrupt_after
        self.builds = 0

    @property
    def device(self):
        return "cpu"

    def setup(self, threads):
        return ThreadSettings(threads=1).as_dict()

    def build(self, model_config, compile_config, *, seed, crossentropy=None):
        self.builds += 1
        if self.interrupt_after is not None and self.builds > self.interrupt_after:
            raise KeyboardInterrupt
        if self.fail_build:
            raise RuntimeError("the twin could not be built")
        return super().build(model_config, compile_config, seed=seed, crossentropy=crossentropy)

    def fit_epoch(self, model, x, y, batch_size):
        self.last_epoch_x = x
        logs, seconds = super().fit_epoch(model, x, y, batch_size)
        if self.diverge:
            logs["loss"] = float("nan")
        return logs, seconds


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def make_runner(tmp_path, text=MATRIX, engines=None, runner_class=None, **options):
    engines = engines or {
        "scratch": TinyEngine("scratch"),
        "keras:tensorflow": TinyEngine("keras:tensorflow"),
    }
    run_options = RunOptions(out_dir=tmp_path / "out", quiet=True, **options)
    return (runner_class or MatrixRunner)(
        load(text), run_options, engines=engines, configs=tiny_configs
    )


def test_both_engines_get_identical_data_and_initial_weights(isolated):
    summary = make_runner(isolated).run()
    assert summary.stored == {"success": 4} and not summary.interrupted
    read = ResultsStore(isolated / "out" / "results.jsonl").read()
    assert read.problems == []
    records = read.records
    assert len({record["key"] for record in records}) == 4
    for seed in (0, 1):
        pair = [record for record in records if record["seed"] == seed]
        assert {record["engine"] for record in pair} == {"scratch", "keras:tensorflow"}
        for field in ("split", "hyperparameters"):
            assert pair[0][field] == pair[1][field]
        for field in ("initial_weights_sha256", "batch_order_sha256"):
            assert pair[0]["training"][field] == pair[1]["training"][field]
        # identical data, identical init, identical code: identical results
        assert pair[0]["metrics"]["accuracy"] == pair[1]["metrics"]["accuracy"]
        assert pair[0]["curves"]["loss"] == pytest.approx(pair[1]["curves"]["loss"], rel=1e-6)
    seed0 = next(record for record in records if record["seed"] == 0)
    seed1 = next(record for record in records if record["seed"] == 1)
    assert seed0["split"]["fingerprint"] != seed1["split"]["fingerprint"]
    assert (
        seed0["training"]["initial_weights_sha256"] != seed1["training"]["initial_weights_sha256"]
    )
    # engines alternate: the first seed starts with scratch, the second with keras
    assert [record["engine"] for record in records] == [
        "scratch",
        "keras:tensorflow",
        "keras:tensorflow",
        "scratch",
    ]
    record = records[0]
    assert record["status"] == "success" and record["error"] is None
    assert (
        record["split"]["train"] + record["split"]["validation"] + record["split"]["test"] == 1797
    )
    assert record["curves"]["epoch"] == [1, 2] and len(record["curves"]["val_accuracy"]) == 2
    timings = record["timings"]
    assert len(timings["epoch_seconds"]) == 2
    assert timings["first_epoch_seconds"] == timings["epoch_seconds"][0]
    assert timings["train_seconds"] == pytest.approx(sum(timings["epoch_seconds"]))
    # one engine-clocked loop time and one whole-call time per epoch
    assert len(timings["epoch_call_seconds"]) == len(timings["epoch_seconds"])
    assert timings["peak_rss_bytes"] > 0 and timings["inference_images_per_second"] > 0
    assert sum(record["metrics"]["per_class"]["support"]) == record["split"]["test"]
    assert record["first_layer_filters"] is None  # a dense net
    assert record["schema"] == 1 and record["environment"]["threads"] == 1


def test_resume_skips_stored_runs_and_redoes_a_lost_one(isolated):
    make_runner(isolated).run()
    path = isolated / "out" / "results.jsonl"
    again = make_runner(isolated, resume=True).run()
    assert again.stored == {} and again.already_stored == 4
    # a kill during the last append: that line is torn, its run must be redone, once
    lines = path.read_bytes().splitlines(keepends=True)
    lost = json.loads(lines[-1])
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:100])
    resumed = make_runner(isolated, resume=True).run()
    assert resumed.stored == {"success": 1} and resumed.already_stored == 3
    records = ResultsStore(path).read().records
    assert sorted(record["key"] for record in records) == sorted(
        json.loads(line)["key"] for line in lines
    )
    assert records[-1]["key"] == lost["key"]


def test_failures_and_divergence_are_recorded_and_the_matrix_goes_on(isolated):
    engines = {
        "scratch": TinyEngine("scratch", diverge=True),
        "keras:tensorflow": TinyEngine("keras:tensorflow", fail_build=True),
    }
    summary = make_runner(isolated, engines=engines).run()
    assert summary.stored == {"diverged": 2, "failed": 2}
    records = ResultsStore(isolated / "out" / "results.jsonl").read().records
    failed = [record for record in records if record["status"] == "failed"]
    assert all("the twin could not be built" in record["error"] for record in failed)
    diverged = [record for record in records if record["status"] == "diverged"]
    assert all("nan" in record["error"] for record in diverged)
    assert all(record["training"]["stopped_early"] == "diverged" for record in diverged)
    assert all(record["metrics"] is None for record in records)


def test_absent_data_set_files_are_recorded_as_skipped(isolated):
    text = MATRIX.replace('datasets = ["digits8x8"]', 'datasets = ["mnist", "digits8x8"]')
    summary = make_runner(isolated, text=text, data_dir=str(isolated / "no-data")).run()
    assert summary.stored == {"skipped": 4, "success": 4}
    records = ResultsStore(isolated / "out" / "results.jsonl").read().records
    skipped = [record for record in records if record["status"] == "skipped"]
    assert {record["dataset"] for record in skipped} == {"mnist"}
    assert all("not found" in record["error"] for record in skipped)


def test_ctrl_c_keeps_finished_runs_and_resume_finishes_the_rest(isolated):
    engines = {
        "scratch": TinyEngine("scratch", interrupt_after=1),
        "keras:tensorflow": TinyEngine("keras:tensorflow"),
    }
    summary = make_runner(isolated, engines=engines).run()
    assert summary.interrupted
    path = isolated / "out" / "results.jsonl"
    first = ResultsStore(path).read()
    # seed 0: scratch, keras; seed 1: keras (first in turn), then the second scratch build
    # is interrupted: three runs are stored
    assert first.problems == [] and len(first.records) == summary.stored["success"] == 3
    resumed = make_runner(isolated, resume=True).run()
    records = ResultsStore(path).read().records
    assert len(records) == 4 and len({record["key"] for record in records}) == 4
    assert resumed.already_stored == len(first.records)


def test_time_budget_stops_training_early(isolated):
    text = MATRIX.replace("epochs = 2", "epochs = 50\ntime_budget_seconds = 1e-9")
    make_runner(isolated, text=text, only=["digits8x8/*"]).run()
    record = ResultsStore(isolated / "out" / "results.jsonl").read().records[0]
    assert record["status"] == "success"
    assert record["training"]["epochs_completed"] == 1
    assert record["training"]["stopped_early"] == "time_budget"


def test_epoch_arrays_follow_the_handed_over_order(isolated):
    import datasets

    cell = load(MATRIX).cells[0]
    cache = DataCache(None, False)
    split = cache.split("digits8x8", 3, None)
    data = cache.prepare("digits8x8", split, cell.harness_settings(), split.fingerprint)
    order0 = datasets.epoch_order(split.train, 3, 0)
    x0, y0 = data.epoch_arrays(order0)
    assert sorted(order0) == sorted(split.train)
    np.testing.assert_allclose(x0, data.dataset.images[order0] / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(y0.argmax(1), data.dataset.labels[order0])


def test_a_worker_refuses_a_split_that_differs_from_its_own(isolated):
    from suite.run.data import SplitMismatchError

    cell = load(MATRIX).cells[0]
    cache = DataCache(None, False)
    split = cache.split("digits8x8", 3, None)
    with pytest.raises(SplitMismatchError, match="driver's is 0123"):
        cache.prepare("digits8x8", split, cell.harness_settings(), "0123")


def test_engine_order_rotates_from_seed_to_seed():
    engines = ["scratch", "keras:tensorflow", "keras:jax"]
    assert rotated(engines, 0) == engines
    assert rotated(engines, 1) == ["keras:tensorflow", "keras:jax", "scratch"]
    assert rotated(engines, 2) == ["keras:jax", "scratch", "keras:tensorflow"]
    assert rotated(engines, 3) == engines
    assert rotated(["scratch", "keras"], 1) == ["keras", "scratch"]


def test_gpu_run_without_a_gpu_is_refused_before_anything_runs(isolated):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed: this machine may have a GPU")
    except ImportError:
        pass
    text = MATRIX.replace('engines = ["scratch", "keras"]', 'engines = ["scratch"]')
    with pytest.raises(DeviceUnavailableError, match="scratch_cnn needs CuPy"):
        make_runner(isolated, text=text, device="gpu").run()
    assert not (isolated / "out" / "results.jsonl").exists()
