"""Batch shards on threads (scratch_cnn.parallel) compute what the one-shard path computes."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratch_cnn as sc
from scratch_cnn import parallel


def build(seed: int = 5, logits: bool = True) -> sc.Sequential:
    model = sc.Sequential(
        [
            sc.Input((10, 10, 2)),
            sc.Conv2D(4, 3, padding="same", activation="tanh"),
            sc.MaxPooling2D(2),
            sc.Conv2D(5, 3, activation="relu", kernel_regularizer=sc.regularizers.L2(0.01)),
            sc.Flatten(),
            sc.Dense(12, activation="sigmoid"),
            sc.Dropout(0.3),
            sc.Dense(3, activation="softmax"),
        ],
        dtype="float64",
        seed=seed,
    )
    loss = sc.losses.CategoricalCrossentropy(softmax_logits=logits)
    model.compile(sc.optimizers.Adam(0.01), loss, ["accuracy"])
    return model


def train(model, x, y, shards, monkeypatch):
    monkeypatch.setattr(parallel, "shard_count", lambda batch, work, min_work=0: shards)
    history = model.fit(x, y, batch_size=10, epochs=2, shuffle=True, seed=1, verbose=0)
    return history, model.predict(x), model.evaluate(x, y)


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("logits", [True, False])
def test_sharded_training_matches_the_single_shard_path(rng, monkeypatch, shards, logits):
    x, y = rng.normal(size=(23, 10, 10, 2)), rng.integers(0, 3, 23)  # last batch: 3 rows
    plain, sharded = build(logits=logits), build(logits=logits)
    history_a, predicted_a, evaluated_a = train(plain, x, y, 1, monkeypatch)
    history_b, predicted_b, evaluated_b = train(sharded, x, y, shards, monkeypatch)
    # Only the order of the gradient sums over the batch differs.
    for key in history_a.history:
        np.testing.assert_allclose(history_a.history[key], history_b.history[key], rtol=1e-12)
    for a, b in zip(plain.get_weights(), sharded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(predicted_a, predicted_b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(evaluated_a, evaluated_b, rtol=1e-10)


def test_shard_slices_cover_the_batch_in_order():
    slices = parallel.shard_slices(23, 3)
    assert [(s.start, s.stop) for s in slices] == [(0, 7), (7, 15), (15, 23)]


def test_a_failing_shard_raises_after_every_shard_has_finished():
    finished = []

    def task(index):
        if index == 1:
            raise ValueError("shard 1 failed")
        finished.append(index)
        return index

    with pytest.raises(ValueError, match="shard 1 failed"):
        parallel.thread_team(3).map(task, 3)
    assert sorted(finished) == [0, 2]


def test_light_models_and_one_blas_thread_are_not_sharded(monkeypatch):
    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    assert parallel.shard_count(128, 1e3) == 1  # too little work per shard
    assert parallel.is_light(128, 1e3)
    assert parallel.shard_count(128, 1e7) == 2
    assert not parallel.is_light(128, 1e7)
    assert parallel.shard_count(12, 1e8) == 1  # fewer than 8 rows per shard
    monkeypatch.setattr(parallel, "blas_threads", lambda: 1)
    assert parallel.shard_count(128, 1e7) == 1
    monkeypatch.setattr(parallel, "blas_threads", lambda: 2)
    monkeypatch.setenv(parallel.SHARDS_ENV_VAR, "0")
    assert parallel.shard_count(128, 1e7) == 1
    assert not parallel.is_light(128, 1e3)


def test_threaded_transposed_product_and_the_engine_thread_count(rng):
    a, b = rng.normal(size=(9, 13)), rng.normal(size=(9, 5))
    np.testing.assert_allclose(parallel.matmul_transposed(a, b, 3), a.T @ b, rtol=1e-13)
    outside = parallel.engine_threads()
    with parallel.blas_threads_limited_to(1):
        assert parallel.blas_threads() == 1
        assert parallel.engine_threads() == outside
    assert parallel.blas_threads() == outside


def test_light_steps_hold_blas_to_one_thread(monkeypatch):
    seen = []
    model = sc.Sequential([sc.Input((4,)), sc.Dense(3, activation="softmax")], seed=0)
    model.compile("adam", "categorical_crossentropy")
    original = parallel.blas_threads_limited_to

    def spy(threads):
        seen.append(threads)
        return original(threads)

    monkeypatch.setattr(parallel, "blas_threads_limited_to", spy)
    model.train_on_batch(np.zeros((2, 4)), [0, 1])
    assert seen == [1]
    monkeypatch.setenv(parallel.SHARDS_ENV_VAR, "0")
    model.train_on_batch(np.zeros((2, 4)), [0, 1])
    assert seen == [1]


def test_the_blas_that_is_limited_is_numpys_even_with_scipys_loaded_first():
    pytest.importorskip("scipy.linalg")
    from threadpoolctl import threadpool_info

    paths = [info["filepath"] for info in threadpool_info() if info["user_api"] == "blas"]
    numpy_paths = [path for path in paths if "numpy" in path]
    if not numpy_paths:
        pytest.skip(f"NumPy's BLAS is not a bundled library here: {paths}")
    assert parallel._blas_controller().filepath in numpy_paths


def test_a_planned_split_gives_the_same_bits_on_fewer_threads(rng, monkeypatch):
    """The load-driven thread count (suite.thread_policy) must not change the numbers."""
    x, y = rng.normal(size=(40, 10, 10, 2)), rng.integers(0, 3, 40)
    original = parallel.shard_count
    monkeypatch.setattr(
        parallel, "shard_count", lambda batch, work, min_work=0: original(batch, work, 1.0)
    )
    teams = []
    real_team = parallel.thread_team
    monkeypatch.setattr(parallel, "thread_team", lambda n: teams.append(n) or real_team(n))

    def fit_with(blas: int) -> list[np.ndarray]:
        model = build()
        # as suite.thread_policy sets it: the BLAS's count itself, not an engine block
        with threadpool_limits(blas, user_api="blas"):
            model.fit(x, y, batch_size=16, epochs=2, shuffle=True, seed=1, verbose=0)
        return model.get_weights()

    with parallel.shards_planned_for(2):
        assert parallel.planned_threads() == 2
        two = fit_with(2)
        assert 2 in teams
        teams.clear()
        one = fit_with(1)
        assert teams and set(teams) == {1}  # the two shards ran one after the other
    for a, b in zip(two, one, strict=True):
        np.testing.assert_array_equal(a, b)
    assert parallel.planned_threads() == parallel.blas_threads()


def test_a_shard_plan_is_undone_when_its_block_ends():
    with parallel.shards_planned_for(3):
        with parallel.shards_planned_for(2):
            assert parallel.planned_threads() == 2
        assert parallel.planned_threads() == 3
        with pytest.raises(RuntimeError), parallel.shards_planned_for(5):
            raise RuntimeError("a failing epoch")
        assert parallel.planned_threads() == 3
    assert parallel.planned_threads() == parallel.blas_threads()


def test_a_team_smaller_than_the_task_count_runs_every_task_once():
    ran = []
    results = parallel.thread_team(2).map(lambda index: ran.append(index) or index * 10, 5)
    assert results == [0, 10, 20, 30, 40]
    assert sorted(ran) == [0, 1, 2, 3, 4]


def test_a_held_up_thread_leaves_the_remaining_tasks_to_the_others():
    # Task 0 stands for a shard whose thread the scheduler has set aside: while it runs,
    # the other thread must take every task that has not started (not every other one).
    import threading
    import time

    ran_on = {}

    def task(index):
        ran_on[index] = threading.get_ident()
        if index == 0:
            time.sleep(0.3)
        return index

    assert parallel.thread_team(2).map(task, 6) == [0, 1, 2, 3, 4, 5]
    others = {ran_on[index] for index in range(1, 6)}
    assert others == {ran_on[1]} and ran_on[1] != ran_on[0]
