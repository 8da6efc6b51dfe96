"""Sequential: structure, weights and configs in Keras's form, save/load, training loops."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import scratch_cnn as sc


def small_cnn(seed: int = 0, dtype: str = "float32") -> sc.Sequential:
    return sc.Sequential(
        [
            sc.Input((8, 8, 1)),
            sc.Conv2D(4, 3, padding="same", activation="relu"),
            sc.MaxPooling2D(2),
            sc.Flatten(),
            sc.Dropout(0.2),
            sc.Dense(16, activation="relu", kernel_regularizer=sc.regularizers.L2(1e-4)),
            sc.Dense(10, activation="softmax"),
        ],
        seed=seed,
        dtype=dtype,
    )


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    return train_test_split(x, data.target, test_size=0.2, random_state=0, stratify=data.target)


def test_weights_are_in_keras_order_and_layout():
    model = small_cnn()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 3, 1, 4), (4,), (64, 16), (16,), (16, 10), (10,)]
    assert [layer.name for layer in model.layers] == [
        "conv2d",
        "max_pooling2d",
        "flatten",
        "dropout",
        "dense",
        "dense_1",
    ]


def test_set_weights_rejects_wrong_shapes():
    model = small_cnn()
    weights = model.get_weights()
    weights[0] = weights[0].transpose(3, 0, 1, 2)
    with pytest.raises(ValueError, match=r"weight 'kernel' has shape \(3, 3, 1, 4\)"):
        model.set_weights(weights)


def test_glorot_uniform_respects_its_limit():
    model = sc.Sequential([sc.Input((300,)), sc.Dense(200)], seed=0)
    kernel = model.get_weights()[0]
    limit = np.sqrt(6.0 / (300 + 200))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit  # and actually spans it
    np.testing.assert_allclose(kernel.var(), limit**2 / 3, rtol=0.03)


@pytest.mark.parametrize(("name", "fan"), [("he_normal", 50), ("glorot_normal", 55)])
def test_truncated_normal_initializers_have_the_keras_variance(name, fan):
    model = sc.Sequential([sc.Input((50,)), sc.Dense(60, kernel_initializer=name)], seed=0)
    kernel = model.get_weights()[0]
    scale = 2.0 / fan if name == "he_normal" else 1.0 / fan
    np.testing.assert_allclose(kernel.var(), scale, rtol=0.05)
    assert np.abs(kernel).max() <= 2 * np.sqrt(scale) / 0.87962566103423978


def test_same_seed_same_model_and_training(digits):
    x_train, _, y_train, _ = digits
    histories = []
    for _ in range(2):
        model = small_cnn(seed=3)
        model.compile("adam", "categorical_crossentropy", ["accuracy"])
        histories.append(
            (model.fit(x_train[:256], y_train[:256], epochs=2, verbose=0), model.get_weights())
        )
    assert histories[0][0].history == histories[1][0].history
    for a, b in zip(histories[0][1], histories[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_mlp_learns_digits(digits):
    x_train, x_test, y_train, y_test = digits
    model = sc.Sequential(
        [
            sc.Input((8, 8, 1)),
            sc.Flatten(),
            sc.Dense(128, "relu", kernel_initializer="he_normal"),
            sc.Dense(128, "relu", kernel_initializer="he_normal"),
            sc.Dense(64, "relu", kernel_initializer="he_normal"),
            sc.Dense(10, "softmax"),
        ],
        seed=0,
    )
    model.compile(sc.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=20, verbose=0, validation_data=(x_test, y_test)
    )
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    _, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.97
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)
    assert len(history.epoch_times) == 20 and min(history.epoch_times) > 0


def test_preprocess_lets_uint8_images_in_without_a_float_copy(digits):
    x_train, x_test, y_train, _ = digits
    raw = np.round(x_train * 16).astype(np.uint8)
    model = small_cnn(seed=1)
    model.compile("adam", "categorical_crossentropy", ["accuracy"])
    seen_dtypes = set()

    def scale(batch):
        seen_dtypes.add(batch.dtype)
        return batch.astype("float32") / 16.0

    model.fit(raw, y_train, batch_size=64, epochs=1, verbose=0, preprocess=scale)
    assert seen_dtypes == {np.dtype(np.uint8)}
    direct = model.predict(x_test[:50])
    via_preprocess = model.predict(np.round(x_test[:50] * 16).astype(np.uint8), preprocess=scale)
    np.testing.assert_allclose(direct, via_preprocess, rtol=1e-6, atol=1e-7)


def test_predict_is_independent_of_the_batch_size(digits):
    _, x_test, _, _ = digits
    model = small_cnn()
    np.testing.assert_allclose(
        model.predict(x_test, batch_size=7),
        model.predict(x_test, batch_size=500),
        rtol=1e-5,
        atol=1e-6,
    )


def test_config_round_trip_rebuilds_the_same_model(rng):
    model = small_cnn(seed=2)
    config = model.get_config()
    json.dumps(config)  # JSON-serialisable
    assert config["layers"][0]["class_name"] == "InputLayer"
    assert config["layers"][1]["config"]["kernel_size"] == [3, 3]
    clone = sc.Sequential.from_config(config)
    clone.set_weights(model.get_weights())
    x = rng.random((5, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))
    assert clone.get_config() == config


def test_from_config_rejects_unsupported_options():
    config = small_cnn().get_config()
    config["layers"][1]["config"]["groups"] = 2
    with pytest.raises(ValueError, match=r"groups=2 is not supported"):
        sc.Sequential.from_config(config)
    config["layers"][1]["class_name"] = "SeparableConv2D"
    with pytest.raises(ValueError, match=r"'SeparableConv2D' is not supported"):
        sc.Sequential.from_config(config)


def test_save_and_load_round_trip(tmp_path, rng):
    model = small_cnn(seed=4)
    model.compile(
        sc.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        "categorical_crossentropy",
        ["accuracy"],
    )
    path = tmp_path / "model.scnn"
    model.save(path)
    loaded = sc.load_model(path)
    x = rng.random((3, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert not list(tmp_path.glob("*.partial"))


def test_load_rejects_a_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "junk.scnn"
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a scratch_cnn model file"):
        sc.load_model(path)


def test_summary_lists_layers_and_parameter_count():
    lines = []
    small_cnn().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "conv2d (Conv2D)" in text and "(None, 4, 4, 4)" in text
    assert f"Total params: {small_cnn().count_params():,}" in text
    assert small_cnn().count_params() == 3 * 3 * 4 + 4 + 64 * 16 + 16 + 16 * 10 + 10


def test_float64_models_compute_in_float64(rng):
    model = small_cnn(dtype="float64")
    assert model.predict(rng.random((2, 8, 8, 1))).dtype == np.float64
    assert all(w.dtype == np.float64 for w in model.get_weights())


def test_train_on_batch_and_compute_gradients_agree_with_sgd(rng):
    model = small_cnn(seed=5, dtype="float64")
    model.layers[3].rate = 0.0  # no dropout: the step must be deterministic
    model.compile(sc.optimizers.SGD(learning_rate=1.0), "categorical_crossentropy")
    x, y = rng.random((6, 8, 8, 1)), rng.integers(0, 10, 6)
    before = model.get_weights()
    gradients = model.compute_gradients(x, y)
    model.train_on_batch(x, y)
    for old, gradient, new in zip(before, gradients, model.get_weights(), strict=True):
        np.testing.assert_allclose(old - new, gradient, rtol=1e-12, atol=1e-15)
