"""Verdict statistics against scipy.stats directly, on fixed data.

The intervals are the inverted sign-flip test: every shift of the paired values that
``scipy.stats.permutation_test(permutation_type="samples")`` does not reject at 5%. So just
inside an end scipy's p-value must be above 0.05, just outside at most 0.05.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from reports.statistics import (
    MIN_SEEDS_FOR_VERDICT,
    NO_CLEAR_DIFFERENCE,
    SIGN_FLIP_RESAMPLES,
    SIGN_FLIP_SEED,
    accuracy_verdict,
    seed_level_minimum,
    sign_flip_test,
    steady_epoch_log_ratios,
    time_verdict,
)

ALPHA = 0.05


def scipy_pvalue(values, shift=0.0, weights=None) -> float:
    """scipy's two-sided sign-flip p-value of the weighted mean of ``values - shift``."""
    values = np.asarray(values, dtype=float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    result = scipy.stats.permutation_test(
        (values - shift,),
        lambda sample, axis: np.sum(np.moveaxis(sample, axis, -1) * weights, axis=-1),
        permutation_type="samples",
        vectorized=True,
        n_resamples=SIGN_FLIP_RESAMPLES,
        rng=np.random.default_rng(SIGN_FLIP_SEED),
    )
    return float(result.pvalue)


def assert_interval_inverts_scipy(values, low, high, weights=None):
    """scipy rejects just outside [low, high] and does not just inside."""
    span = float(np.ptp(values)) or 1.0
    step = 1e-7 * span
    assert scipy_pvalue(values, low - step, weights) <= ALPHA
    assert scipy_pvalue(values, low + step, weights) > ALPHA
    assert scipy_pvalue(values, high + step, weights) <= ALPHA
    assert scipy_pvalue(values, high - step, weights) > ALPHA


def test_exact_sign_flip_test_is_scipys_and_inverts_it():
    values = np.array([0.31, 0.12, 0.44, -0.05, 0.27, 0.19, 0.38, 0.08])
    result = sign_flip_test(values)
    assert result.exact and result.units == 8
    assert result.estimate == pytest.approx(values.mean(), rel=1e-12)
    assert result.pvalue == scipy_pvalue(values)
    assert result.low < result.estimate < result.high
    assert_interval_inverts_scipy(values, result.low, result.high)


def test_weighted_test_with_random_sign_patterns_is_scipys_and_inverts_it():
    generator = np.random.default_rng(7)
    values = generator.normal(0.05, 0.2, 27)  # 2**27 patterns: random ones
    weights = generator.uniform(0.5, 2.0, 27)
    result = sign_flip_test(values, weights)
    assert not result.exact
    assert result.estimate == pytest.approx(np.sum(values * weights) / weights.sum(), rel=1e-12)
    assert result.pvalue == scipy_pvalue(values, 0.0, weights)
    assert_interval_inverts_scipy(values, result.low, result.high, weights)


def test_five_seeds_cannot_reject_with_an_exact_sign_flip_test():
    assert seed_level_minimum() == 6
    five = [0.5, 0.6, 0.7, 0.8, 0.9]  # all on one side: the smallest p there is
    assert scipy_pvalue(five) == pytest.approx(2 / 2**5) and 2 / 2**5 > ALPHA
    result = sign_flip_test(five)
    assert (result.low, result.high) == (-math.inf, math.inf)
    six = [*five, 0.4]
    assert scipy_pvalue(six) == pytest.approx(2 / 2**6) and 2 / 2**6 <= ALPHA
    assert math.isfinite(sign_flip_test(six).low)


def test_six_seeds_a_consistent_ratio_names_the_faster_engine():
    baseline = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0])
    ratios = np.array([2.0, 2.1, 1.9, 2.05, 1.95, 2.2])
    verdict = time_verdict(baseline, baseline * ratios, "scratch", "keras:tensorflow")
    logs = np.log(ratios)
    assert verdict.seeds == 6 and verdict.method == "sign-flip test over 6 seeds"
    assert verdict.estimate == pytest.approx(np.exp(logs.mean()), rel=1e-12)
    assert verdict.pvalue == scipy_pvalue(logs)
    assert_interval_inverts_scipy(logs, math.log(verdict.low), math.log(verdict.high))
    assert 1 < verdict.low < verdict.high
    assert verdict.verdict == "scratch faster" and verdict.winner == "scratch"
    # the same pairs the other way round name the same engine
    swapped = time_verdict(baseline * ratios, baseline, "keras:tensorflow", "scratch")
    assert swapped.verdict == "scratch faster" and swapped.high < 1


def test_an_interval_straddling_one_gives_no_clear_difference():
    baseline = np.full(6, 1.0)
    ratios = np.array([1.3, 0.8, 1.2, 0.9, 1.25, 0.85])
    verdict = time_verdict(baseline, ratios, "scratch", "keras:torch")
    assert scipy_pvalue(np.log(ratios)) > ALPHA
    assert verdict.low < 1 < verdict.high
    assert verdict.verdict == NO_CLEAR_DIFFERENCE and verdict.winner is None
    assert_interval_inverts_scipy(np.log(ratios), math.log(verdict.low), math.log(verdict.high))


def _runs(steady_by_seed, first=3.0):
    return [[first, *steady] for steady in steady_by_seed]


def test_three_seeds_the_per_epoch_test_decides_widened_to_the_seeds_range():
    # every epoch of the second engine about half the first's: clear at 3 seeds
    first = _runs([[1.0, 1.02, 0.98, 1.01, 0.99]] * 3)
    second = _runs([[0.5, 0.52, 0.49, 0.51, 0.5], [0.55, 0.5, 0.53, 0.52, 0.51],
                    [0.48, 0.5, 0.47, 0.49, 0.5]])  # fmt: skip
    first_seconds = [float(np.median(run[1:])) for run in first]
    second_seconds = [float(np.median(run[1:])) for run in second]
    verdict = time_verdict(
        first_seconds, second_seconds, "scratch", "keras:jax",
        first_epochs=first, second_epochs=second,
    )  # fmt: skip
    values, weights, seeds = steady_epoch_log_ratios(first, second)
    assert seeds == 3 and values.size == 15
    np.testing.assert_allclose(weights, 1 / 15, rtol=1e-12)
    epoch_level = sign_flip_test(values, weights)
    seed_logs = np.log(np.divide(second_seconds, first_seconds))
    assert math.log(verdict.low) == pytest.approx(min(epoch_level.low, seed_logs.min()))
    assert math.log(verdict.high) == pytest.approx(max(epoch_level.high, seed_logs.max()))
    assert_interval_inverts_scipy(values, epoch_level.low, epoch_level.high, weights)
    assert verdict.method.startswith("sign-flip test over 15 paired epochs of 3 seeds")
    assert verdict.verdict == "keras:jax faster" and verdict.high < 1


def test_three_seeds_noisy_epochs_or_a_disagreeing_seed_name_no_winner():
    steady = [1.0] * 5
    # every seed's median says faster, but the epochs scatter around the baseline's
    noisy = _runs(
        [[0.5, 1.6, 0.7, 1.3, 0.9], [0.6, 1.5, 0.8, 1.25, 0.85], [0.55, 1.7, 0.75, 1.2, 0.95]]
    )
    noisy_seconds = [float(np.median(run[1:])) for run in noisy]
    assert max(noisy_seconds) < 1.0
    verdict = time_verdict([1.0] * 3, noisy_seconds, "scratch", "keras:jax",
                           first_epochs=_runs([steady] * 3), second_epochs=noisy)  # fmt: skip
    assert verdict.low < 1 < verdict.high and verdict.verdict == NO_CLEAR_DIFFERENCE
    # tight epochs, but one seed the other way round
    mixed = _runs([[0.5] * 5, [0.5] * 5, [1.5] * 5])
    verdict = time_verdict([1.0] * 3, [0.5, 0.5, 1.5], "scratch", "keras:jax",
                           first_epochs=_runs([steady] * 3), second_epochs=mixed)  # fmt: skip
    assert verdict.high == pytest.approx(1.5) and verdict.verdict == NO_CLEAR_DIFFERENCE


def test_fewer_than_three_seeds_give_no_interval_and_no_winner():
    assert MIN_SEEDS_FOR_VERDICT == 3
    verdict = time_verdict([1.0, 1.0], [10.0, 11.0], "scratch", "keras:tensorflow")
    assert math.isnan(verdict.low) and math.isnan(verdict.high)
    assert verdict.verdict == NO_CLEAR_DIFFERENCE and verdict.winner is None
    assert verdict.method == "2 paired seed(s): 3 needed"
    assert verdict.estimate == pytest.approx(math.sqrt(110), rel=1e-12)
    # missing and non-positive times drop their pair
    dropped = time_verdict([1.0, math.nan, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0], "a", "b")
    assert dropped.seeds == 2


def test_accuracy_verdicts_against_scipy_and_the_seeds_range():
    baseline = np.array([0.93, 0.94, 0.92, 0.95, 0.93, 0.94])
    differences = np.array([-0.021, -0.018, -0.025, -0.02, -0.019, -0.023])
    verdict = accuracy_verdict(baseline, baseline + differences, "scratch", "keras:tensorflow")
    assert verdict.pvalue == scipy_pvalue(baseline + differences - baseline)
    assert_interval_inverts_scipy(differences, verdict.low, verdict.high)
    assert verdict.high < 0 and verdict.verdict == "scratch more accurate"
    # three seeds: the interval is their range; one seed the other way: no winner
    three = accuracy_verdict(
        baseline[:3], baseline[:3] + np.array([0.01, 0.02, -0.005]), "scratch", "b"
    )
    assert (three.low, three.high) == pytest.approx((-0.005, 0.02))
    assert three.verdict == NO_CLEAR_DIFFERENCE and three.method == "range of 3 seeds"
    agree = accuracy_verdict(baseline[:3], baseline[:3] + 0.01, "scratch", "keras:jax")
    assert agree.verdict == "keras:jax more accurate"
    # identical accuracies: an interval [0, 0] touches zero, so no winner
    same = accuracy_verdict(baseline, baseline, "scratch", "keras:jax")
    assert (same.low, same.high) == (0.0, 0.0) and same.verdict == NO_CLEAR_DIFFERENCE


@pytest.mark.parametrize("seeds", [3, 4, 6, 9])
def test_no_interval_straddling_one_ever_names_a_winner(seeds):
    generator = np.random.default_rng(seeds)
    for _ in range(25):
        ratios = np.exp(generator.normal(generator.normal(0, 0.1), 0.15, seeds))
        first = [[2.0, *generator.uniform(0.9, 1.1, 4)] for _ in range(seeds)]
        second = [[2.0, *(ratio * generator.uniform(0.9, 1.1, 4))] for ratio in ratios]
        verdict = time_verdict(
            [np.median(run[1:]) for run in first], [np.median(run[1:]) for run in second],
            "a", "b", first_epochs=first, second_epochs=second,
        )  # fmt: skip
        if verdict.low <= 1 <= verdict.high:
            assert verdict.winner is None and verdict.verdict == NO_CLEAR_DIFFERENCE
        else:
            assert verdict.winner == ("b" if verdict.high < 1 else "a")
