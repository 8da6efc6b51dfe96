"""``cnnbench validate``: arguments, inputs, the table, the files and the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keras_models import parity, validate
from suite import cli
from suite.commands import validate as validate_command

from .conftest import (
    SPEC_FORWARD_FLOAT32,
    SPEC_FORWARD_FLOAT64,
    SPEC_GRADIENT_RELATIVE,
    SPEC_TRAINING_RELATIVE,
)

pytestmark = pytest.mark.keras


def _arguments(*argv: str) -> Any:
    return cli.build_parser().parse_args(["validate", *argv])


def test_importing_the_command_does_not_import_keras() -> None:
    code = "import sys, suite.cli; suite.cli.build_parser(); print('keras' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_digits_images_are_real_and_other_shapes_random() -> None:
    batches, description = validate.make_inputs((8, 8, 1), 10, 4, 3, "digits8x8", None, 0)
    assert description == "digits8x8 (real)"
    assert len(batches) == 3 and batches[0].x.shape == (4, 8, 8, 1)
    assert 0.0 <= batches[0].x.min() and batches[0].x.max() <= 1.0
    np.testing.assert_array_equal(batches[0].y.sum(axis=1), 1.0)
    batches, description = validate.make_inputs((32, 32, 3), 10, 2, 2, "digits8x8", None, 0)
    assert description.startswith("random 32x32x3 (digits8x8 images are (8, 8, 1)")
    assert batches[1].x.shape == (2, 32, 32, 3)


def test_a_missing_data_file_is_named_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CNNBENCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
    reason = validate.load_real_images("cifar10", 2, str(tmp_path))
    assert reason == (
        "cifar10 files not readable: cifar10: cifar-10-python.tar.gz not found "
        "(validate never downloads)"
    )
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"not a tar file")
    reason = validate.load_real_images("cifar10", 2, str(tmp_path))
    assert reason.startswith("cifar10 files not readable: ") and "never downloads" not in reason


def test_validate_writes_json_and_markdown_and_passes(tmp_path: Path, capsys) -> None:
    arguments = _arguments("--arch", "densenet2_20", "--steps", "3", "--out", str(tmp_path))
    assert validate_command.run(arguments) == 0
    printed = capsys.readouterr().out
    assert "| densenet2_20 | digits8x8 (real) | 4 | ok |" in printed
    document = json.loads((tmp_path / f"validate-{_backend()}.json").read_text())
    assert document["passed"] is True
    (record,) = document["models"]
    assert record["name"] == "densenet2_20" and record["steps"] == 3
    assert document["bounds"] == {
        "forward_float32": SPEC_FORWARD_FLOAT32,
        "forward_float64": SPEC_FORWARD_FLOAT64,
        "gradient_relative": SPEC_GRADIENT_RELATIVE,
        "training_relative": SPEC_TRAINING_RELATIVE,
    }
    assert record["forward_float32"] <= SPEC_FORWARD_FLOAT32
    assert record["forward_float64"] <= SPEC_FORWARD_FLOAT64
    assert 0 < record["gradient_relative"] <= SPEC_GRADIENT_RELATIVE
    assert max(record["sgd_relative"], record["adam_relative"]) <= SPEC_TRAINING_RELATIVE
    assert [name for name, _ in record["gradient_per_weight"]][:2] == ["dense/kernel", "dense/bias"]
    markdown = (tmp_path / f"validate-{_backend()}.md").read_text()
    assert "densenet2_20" in markdown and "pass" in markdown


def test_a_failing_check_gives_exit_code_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parity, "GRADIENT_BOUND", 0.0)  # any rounding now fails
    arguments = _arguments("--arch", "densenet2_20", "--steps", "1", "--out", str(tmp_path))
    assert validate_command.run(arguments) == 1
    document = json.loads((tmp_path / f"validate-{_backend()}.json").read_text())
    assert document["passed"] is False
    assert document["models"][0]["failures"] == ["gradient"]


def test_unknown_names_give_exit_code_two_and_list_the_catalog(capsys) -> None:
    assert validate_command.run(_arguments("--arch", "alexnet")) == 2
    error = capsys.readouterr().err
    assert "alexnet" in error and "vgg_c" in error
    assert validate_command.run(_arguments("--dataset", "imagenet")) == 2


def test_an_architecture_that_cannot_take_the_data_set_is_reported(tmp_path: Path) -> None:
    record = validate_command.validate_architecture("numpy_cnn", dataset="digits8x8", steps=1)
    assert record.failures()[0] == "error"
    assert "Conv2D(8, 5x5, valid, relu)" in record.error


def _backend() -> str:
    import keras

    return keras.backend.backend()
