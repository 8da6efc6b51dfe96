"""``cnnbench profile``: the structure of the per-layer breakdown (no timing assertions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratch_cnn as sc
from scratch_cnn.profiler import PARTS, StepProfiler
from suite.profile import profile_architecture

# convkeras4_20 on 12x12 images: conv 10x10, pool 5x5, conv 3x3, pool 1x1, dense, softmax.
TINY = {"input_shape": (12, 12, 1), "num_classes": 4, "batch_size": 8}
QUICK = {"rounds": 1, "steps_per_round": 2, "warmup_steps": 1}


def rows_by_layer(result):
    by_layer: dict[str, set[str]] = {}
    for row in result.rows:
        by_layer.setdefault(row.layer, set()).add(row.part)
    return by_layer


def test_every_layer_and_part_has_a_row_and_percentages_sum_to_100():
    result = profile_architecture(
        "convkeras4_20", "digits8x8", with_keras=False, with_tensorflow_ops=False, **TINY, **QUICK
    )
    by_layer = rows_by_layer(result)
    assert by_layer["conv2d"] == {"forward", "activation", "activation backward", "weight gradient"}
    assert by_layer["conv2d_1"] == {
        "forward",
        "activation",
        "activation backward",
        "weight gradient",
        "input gradient",
    }
    for pool in ("max_pooling2d", "max_pooling2d_1"):
        assert by_layer[pool] == {"pooling forward", "pooling backward"}
    assert by_layer["flatten"] == {"forward", "input gradient"}
    # the softmax output's derivative is fused into the loss: no activation backward there
    assert by_layer["dense_1"] == {"forward", "activation", "weight gradient", "input gradient"}
    assert by_layer["input"] == {"data copy"}
    assert {"loss", "optimizer update", "metrics"} <= by_layer["model"]
    assert all(row.part in PARTS for row in result.rows)
    assert math.isclose(sum(row.percent for row in result.rows), 100.0, abs_tol=1e-6)
    assert math.isclose(result.scratch_step_ms, sum(row.scratch_ms for row in result.rows))
    assert result.steps == QUICK["rounds"] * QUICK["steps_per_round"]
    assert result.keras_step_ms is None
    text = result.format()
    for layer in by_layer:
        assert layer in text


def test_a_relu_convolution_in_tiles_laps_its_relu_with_the_conv():
    # cnn1_32's conv runs with its ReLU in tiles (scratch_cnn.functional.conv_relu_tiles):
    # no activation rows; the TensorFlow ops beside it include the ReLU too.
    result = profile_architecture(
        "cnn1_32", "digits8x8", with_keras=False, with_tensorflow_ops=False, **TINY, **QUICK
    )
    by_layer = rows_by_layer(result)
    assert by_layer["conv2d"] == {"forward", "weight gradient"}
    assert "activation" in by_layer["dense"]  # a Dense layer keeps its own ReLU lap


@pytest.mark.keras
def test_the_tensorflow_ops_beside_a_relu_convolution_in_tiles_include_the_relu():
    pytest.importorskip("tensorflow")
    result = profile_architecture("cnn1_32", "digits8x8", with_keras=False, **TINY, **QUICK)
    ops = {(row.layer, row.part): row.tensorflow_op for row in result.rows}
    assert ops[("conv2d", "forward")] == "conv2d + bias_add + relu"
    assert ops[("conv2d", "weight gradient")] == "ReluGrad + Conv2DBackpropFilter + BiasAddGrad"
    assert ops[("dense", "activation")] == "relu"


@pytest.mark.keras
def test_tensorflow_ops_and_the_keras_twin_are_timed_beside_the_rows():
    pytest.importorskip("tensorflow")
    result = profile_architecture("convkeras4_20", "digits8x8", **TINY, **QUICK)
    timed = {(row.layer, row.part) for row in result.rows if row.tensorflow_ms is not None}
    assert ("conv2d_1", "input gradient") in timed
    assert ("conv2d", "weight gradient") in timed
    assert ("max_pooling2d", "pooling backward") in timed
    assert ("dense", "forward") in timed
    assert ("model", "optimizer update") in timed
    assert ("input", "data copy") not in timed
    assert result.keras_step_ms is not None and result.keras_step_ms > 0
    assert "Keras twin" in result.format()


def test_laps_outside_a_step_are_ignored_and_the_engine_result_is_unchanged(rng):
    """Attaching a profiler changes nothing the model computes."""
    x, y = rng.normal(size=(6, 6, 6, 1)), rng.integers(0, 3, 6)

    def build():
        model = sc.Sequential(
            [
                sc.Input((6, 6, 1)),
                sc.Conv2D(2, 3, activation="tanh"),
                sc.MaxPooling2D(2),
                sc.Flatten(),
                sc.Dense(3, activation="softmax"),
            ],
            dtype="float64",
            seed=3,
        )
        model.compile("adam", "categorical_crossentropy")
        return model

    plain, profiled = build(), build()
    profiler = StepProfiler()
    profiled.set_profiler(profiler)
    profiled.predict(x)  # laps outside fit's steps: ignored
    assert profiler.steps == []
    history_plain = plain.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    history_profiled = profiled.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    assert len(profiler.steps) == 2
    assert history_plain.history == history_profiled.history
    for a, b in zip(plain.get_weights(), profiled.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
