"""Matrix loading and validation: every problem reported at once, with file and line."""

from __future__ import annotations

import textwrap

import pytest

from suite import catalog, matrix

GOOD = """
name = "tiny"

[defaults]
engines = ["scratch", "keras"]
seeds = [0, 1]
epochs = 3

[[experiment]]
name = "digits"
datasets = ["digits8x8"]
architectures = ["densenet2_20", "cnn1_3"]
optimizer = "sgd"
learning_rate = 0.1

[experiment.overrides.cnn1_3]
optimizer = "adam"
learning_rate = 0.001

[[experiment]]
name = "big"
datasets = "mnist"
architectures = ["numpy_cnn"]
seeds = [7]
engines = ["keras"]
time_budget_seconds = 30.0
validation_size = 5000
"""


def write(tmp_path, text: str):
    path = tmp_path / "m.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_good_matrix_expands_cells_with_resolved_settings(tmp_path, validator_hooks):
    loaded = matrix.load_matrix(write(tmp_path, GOOD), **validator_hooks)
    assert loaded.name == "tiny"
    assert [cell.name for cell in loaded.cells] == [
        "digits/digits8x8/densenet2_20",
        "digits/digits8x8/cnn1_3",
        "big/mnist/numpy_cnn",
    ]
    dense, conv, big = loaded.cells
    assert dense.settings["optimizer"] == "sgd" and dense.settings["learning_rate"] == 0.1
    assert conv.settings["optimizer"] == "adam" and conv.settings["learning_rate"] == 0.001
    assert dense.settings["epochs"] == 3 and dense.settings["batch_size"] is None
    # unset hyperparameters come from the architecture's own set-up (the resolver)
    assert dense.hyperparameters["batch_size"] == 32 and dense.batch_size == 32
    assert dense.epochs == 3 and dense.hyperparameters["initializer"] == "glorot_uniform"
    assert dense.overrides() == {"optimizer": "sgd", "learning_rate": 0.1, "epochs": 3}
    assert dense.configuration()["hyperparameters"] == dense.hyperparameters
    assert big.seeds == [7] and big.engines == ["keras"]
    assert big.settings["validation_size"] == 5000
    assert loaded.run_count() == 2 * 2 + 2 * 2 + 1
    assert [cell.name for cell in loaded.select(["*/cnn1_3"])] == ["digits/digits8x8/cnn1_3"]
    assert [cell.name for cell in loaded.select(["big/*"])] == ["big/mnist/numpy_cnn"]
    assert loaded.select([]) == loaded.cells


def test_configuration_hash_ignores_engines_and_seeds_but_not_hyperparameters(
    tmp_path, validator_hooks
):
    base = matrix.load_matrix(write(tmp_path, GOOD), **validator_hooks).cells[0]
    other_seeds = GOOD.replace("seeds = [0, 1]", "seeds = [3]")
    other_lr = GOOD.replace("learning_rate = 0.1", "learning_rate = 0.2")
    assert (
        matrix.load_matrix(write(tmp_path, other_seeds), **validator_hooks)
        .cells[0]
        .configuration_hash()
        == base.configuration_hash()
    )
    assert (
        matrix.load_matrix(write(tmp_path, other_lr), **validator_hooks)
        .cells[0]
        .configuration_hash()
        != base.configuration_hash()
    )


def test_all_problems_are_reported_at_once_with_lines(tmp_path, validator_hooks):
    bad = """\
        colour = "blue"

        [defaults]
        epochs = 0
        learning_rat = 0.1

        [[experiment]]
        datasets = ["digits8x8", "imagenet"]
        architectures = ["densenet2_20", "vgg99", "numpy_cnn"]
        optimizer = "rmsprop"

        [experiment.overrides.lenet5]
        epochs = 2
        """
    path = write(tmp_path, bad)
    with pytest.raises(matrix.MatrixError) as caught:
        matrix.load_matrix(path, **validator_hooks)
    problems = {problem.message.split(";")[0]: problem.line for problem in caught.value.problems}
    text = str(caught.value)
    assert str(path) in text and "problems in the benchmark matrix" in text
    expected = {
        "unknown top-level key 'colour'": 1,
        "[defaults]: epochs is 0": 4,
        "unknown setting 'learning_rat' in [defaults]": 5,
        "experiment 'experiment1': optimizer is 'rmsprop'": 10,
        "experiment 'experiment1': unknown architecture 'vgg99'": 9,
        "experiment 'experiment1': override 'lenet5' matches no cell": 12,
    }
    for message, line in expected.items():
        assert problems.get(message) == line, (message, problems)
    assert any(
        "unknown data set 'imagenet'" in p.message and p.line == 8 for p in caught.value.problems
    )
    assert any(
        "numpy_cnn does not fit digits8x8" in p.message and "16x16" in p.message and p.line == 9
        for p in caught.value.problems
    )
    assert len(caught.value.problems) == 8


def test_duplicate_cells_and_bad_toml_and_missing_file(tmp_path, validator_hooks):
    duplicated = (
        GOOD + '\n[[experiment]]\nname = "again"\ndatasets = ["digits8x8"]\n'
        'architectures = ["densenet2_20"]\noptimizer = "sgd"\nlearning_rate = 0.1\n'
    )
    with pytest.raises(matrix.MatrixError, match="same configuration"):
        matrix.load_matrix(write(tmp_path, duplicated), **validator_hooks)
    with pytest.raises(matrix.MatrixError, match=r"not valid TOML.*line 1"):
        matrix.load_matrix(write(tmp_path, "name = \n"), **validator_hooks)
    with pytest.raises(matrix.MatrixError, match="no such matrix file"):
        matrix.load_matrix(tmp_path / "absent.toml", **validator_hooks)
    with pytest.raises(matrix.MatrixError, match="no \\[\\[experiment\\]\\] block"):
        matrix.load_matrix(write(tmp_path, 'name = "empty"\n'), **validator_hooks)


SHIPPED = ["quick.toml", "seeds.toml"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_matrices_parse_with_known_settings(name, validator_hooks):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "matrices" / name
    # every architecture name passes here; the real catalog check is the next test
    hooks = {
        **validator_hooks,
        "dataset_lookup": lambda dataset: matrix.DatasetShape((32, 32, 3), 10),
        "architecture_names": None,
        "shape_check": lambda *args: None,
    }
    catalog_names = list(catalog.architecture_names())  # SPEC's catalog table
    hooks["architecture_names"] = catalog_names
    loaded = matrix.load_matrix(path, **hooks)
    assert loaded.cells and all(cell.engines == ["scratch", "keras"] for cell in loaded.cells)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_matrices_validate_against_catalog_and_datasets(name):
    from pathlib import Path

    pytest.importorskip("suite.catalog")
    path = Path(__file__).resolve().parents[2] / "matrices" / name
    loaded = matrix.load_matrix(path)
    assert loaded.cells
    for cell in loaded.cells:
        assert set(matrix.HYPERPARAMETER_KEYS) <= set(cell.hyperparameters)


def test_real_catalog_rejects_architectures_that_do_not_fit(tmp_path):
    pytest.importorskip("suite.catalog")
    text = """
    [[experiment]]
    datasets = ["digits8x8"]
    architectures = ["numpy_cnn", "cnn1_3"]
    learning_rate = -1.0
    """
    with pytest.raises(matrix.MatrixError) as caught:
        matrix.load_matrix(write(tmp_path, text))
    messages = [problem.message for problem in caught.value.problems]
    assert any("numpy_cnn does not fit digits8x8" in message for message in messages)
    assert any("learning_rate is -1.0" in message for message in messages)


def test_real_data_set_lookup_reports_unknown_and_absent_data_sets(tmp_path):
    text = f"""
    [[experiment]]
    datasets = ["imagenet", "idx:{tmp_path / "nowhere"}", "mnist"]
    architectures = ["cnn1_3"]
    """
    with pytest.raises(matrix.MatrixError) as caught:
        matrix.load_matrix(write(tmp_path, text))
    messages = [problem.message for problem in caught.value.problems]
    assert len(messages) == 2
    assert "unknown data set 'imagenet'" in messages[0]
    assert "nowhere" in messages[1]
