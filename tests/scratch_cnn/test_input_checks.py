"""Bad input gets an error that names what was seen, what was expected and what to do."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_cnn as sc
from scratch_cnn.input_checks import DivergenceError, InputValidationError


@pytest.fixture
def model() -> sc.Sequential:
    model = sc.Sequential(
        [sc.Input((6, 6, 1)), sc.Conv2D(2, 3), sc.Flatten(), sc.Dense(3, activation="softmax")],
        seed=0,
    )
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    return model


def test_missing_channel_axis_is_explained(model):
    with pytest.raises(
        InputValidationError, match=r"\(6, 6\) but the model expects \(6, 6, 1\).*x\[\.\.\., None\]"
    ):
        model.fit(np.zeros((4, 6, 6), "float32"), np.zeros(4, int), verbose=0)


def test_channels_first_data_is_recognised():
    model = sc.Sequential([sc.Input((5, 5, 3)), sc.Flatten(), sc.Dense(2)], seed=0)
    with pytest.raises(InputValidationError, match="channels-first"):
        model.predict(np.zeros((2, 3, 5, 5), "float32"))


def test_integer_images_need_scaling(model):
    with pytest.raises(InputValidationError, match=r"dtype uint8.*preprocess="):
        model.predict(np.zeros((2, 6, 6, 1), np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_x_are_refused(model, bad):
    x = np.zeros((4, 6, 6, 1), "float32")
    x[2, 3, 3, 0] = bad
    with pytest.raises(InputValidationError, match=r"contains 1 NaN or infinite value"):
        model.fit(x, np.zeros(4, int), verbose=0)


def test_labels_out_of_range(model):
    with pytest.raises(InputValidationError, match=r"labels in \[0, 3\].*must lie in \[0, 2\]"):
        model.fit(np.zeros((4, 6, 6, 1), "float32"), np.array([0, 1, 2, 3]), verbose=0)


def test_labels_of_the_wrong_length_or_shape(model):
    x = np.zeros((4, 6, 6, 1), "float32")
    with pytest.raises(InputValidationError, match=r"y has 3 entries but x has 4 samples"):
        model.fit(x, np.array([0, 1, 2]), verbose=0)
    with pytest.raises(InputValidationError, match=r"one-hot with 5 columns but the model has 3"):
        model.fit(x, np.zeros((4, 5)), verbose=0)
    with pytest.raises(InputValidationError, match="non-integer labels"):
        model.fit(x, np.array([0.5, 1, 2, 0]), verbose=0)


def test_divergence_stops_fit_at_the_first_non_finite_loss():
    model = sc.Sequential([sc.Input((4,)), sc.Dense(3, activation="linear")], seed=0)
    model.compile(sc.optimizers.SGD(learning_rate=1e6), "mse")
    x = np.full((64, 4), 100.0, "float32")
    with pytest.raises(
        DivergenceError, match=r"the loss became (nan|inf) at epoch 1, batch \d+"
    ) as info:
        model.fit(x, np.zeros(64, int), batch_size=8, epochs=3, verbose=0)
    assert info.value.epoch == 1


def test_fit_before_compile_says_so():
    model = sc.Sequential([sc.Input((4,)), sc.Dense(3)], seed=0)
    with pytest.raises(RuntimeError, match=r"compile"):
        model.fit(np.zeros((2, 4), "float32"), np.zeros(2, int), verbose=0)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*'relu'"):
        sc.Dense(3, activation="swish")
    with pytest.raises(ValueError, match=r"unknown initializer 'lecun'"):
        sc.Dense(3, kernel_initializer="lecun")
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'"):
        sc.Sequential([sc.Input((2,)), sc.Dense(2)]).compile("rmsprop")
    with pytest.raises(ValueError, match=r"padding must be 'valid' or 'same'"):
        sc.Conv2D(2, 3, padding="full")


def test_architecture_that_does_not_fit_the_input_names_the_layer():
    with pytest.raises(ValueError, match=r"layer 1 \(max_pooling2d_1.*does not fit a 1x1 input"):
        sc.Sequential([sc.Input((3, 3, 1)), sc.MaxPooling2D(2), sc.MaxPooling2D(2), sc.Flatten()])


def test_dense_on_images_asks_for_flatten():
    with pytest.raises(ValueError, match=r"put a Flatten\(\) layer before it"):
        sc.Sequential([sc.Input((3, 3, 1)), sc.Dense(2)])
