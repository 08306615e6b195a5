"""Worked examples whose expected values are derived by hand, not by lrperf."""
import math

import numpy as np
import pytest

import lrperf


def test_zero_weights_by_hand(strategy):
    # w = 0, b = 0: every a = 1/2, so each loss is log 2, dz = 1/2 - y.
    X = np.array([[1.0, 2.0], [3.0, -4.0]])
    Y = np.array([[1, 0]])
    grads, cost = lrperf.propagate(np.zeros((2, 1)), 0.0, X, Y, strategy=strategy)
    # dz = [-1/2, 1/2]; dw = X dz / 2 = [(-1 + 2) / 4, (-3 - 4) / 4]
    np.testing.assert_allclose(grads["dw"], [[0.25], [-1.75]], rtol=1e-15)
    assert grads["db"] == 0.0
    assert math.isclose(cost, math.log(2.0), rel_tol=1e-15)


def test_saturated_by_hand(strategy):
    # z = +-1e4: confidently right examples cost ~e^-1e4 = 0 and have dz = 0;
    # confidently wrong ones cost ~1e4 and have dz = +-1.
    X = np.array([[1e4, -1e4, 1e4, -1e4]])
    Y = np.array([[1, 0, 0, 1]])
    grads, cost = lrperf.propagate(np.ones(1), 0.0, X, Y, strategy=strategy)
    assert math.isclose(cost, (1e4 + 1e4) / 4, rel_tol=1e-12)
    assert math.isclose(grads["dw"][0], (1e4 * 1 + (-1e4) * (-1)) / 4, rel_tol=1e-12)
    assert grads["db"] == 0.0


def test_course_published_example(strategy):
    # The assignment's propagate test case and its published expected output.
    w, b = np.array([[1.0], [2.0]]), 2.0
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    Y = np.array([[1, 0, 1]])
    grads, cost = lrperf.propagate(w, b, X, Y, strategy=strategy)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-8)
    assert math.isclose(grads["db"], 0.00145557813678, rel_tol=1e-9)
    assert math.isclose(cost, 5.801545319394553, rel_tol=1e-12)


def test_course_optimize_example(strategy):
    # Published: w = [[0.19033591], [0.12259159]], b = 1.92535983, dw =
    # [[0.67752042], [1.41625495]], db = 0.219194504541 after 100 steps at 0.009.
    w, b = np.array([[1.0], [2.0]]), 2.0
    X = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
    Y = np.array([[1, 0, 1]])
    params, grads, costs = lrperf.optimize(w, b, X, Y, 100, 0.009, strategy=strategy)
    np.testing.assert_allclose(params["w"], [[0.19033591], [0.12259159]], rtol=1e-7)
    assert math.isclose(params["b"], 1.92535983, rel_tol=1e-8)
    np.testing.assert_allclose(grads["dw"], [[0.67752042], [1.41625495]], rtol=1e-7)
    assert math.isclose(grads["db"], 0.219194504541, rel_tol=1e-9)
    assert len(costs) == 1 and math.isclose(costs[0], 5.801545319394553, rel_tol=1e-12)


def test_predict_by_hand():
    # z = 2x - 1 for x = 0, 1, 0.5, 0.25 -> -1, 1, 0 (sigmoid exactly 0.5, not > 0.5), -0.5
    Y = lrperf.predict(np.array([[2.0]]), -1.0, np.array([[0.0, 1.0, 0.5, 0.25]]))
    assert Y.shape == (1, 4) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y, [[0.0, 1.0, 0.0, 0.0]])


def test_costs_recorded_every_hundred_iterations(strategy):
    X = np.array([[1.0, -1.0]])
    Y = np.array([[1, 0]])
    params, grads, costs = lrperf.optimize(np.zeros(1), 0.0, X, Y, 250, 0.1, strategy=strategy)
    assert len(costs) == 3  # iterations 0, 100, 200
    assert math.isclose(costs[0], math.log(2.0), rel_tol=1e-15)
    assert costs[0] > costs[1] > costs[2] > 0


@pytest.mark.parametrize("iterations", [0, 1])
def test_zero_and_one_iteration(iterations):
    X = np.array([[1.0, 2.0], [3.0, -4.0]])
    Y = np.array([[1, 0]])
    params, grads, costs = lrperf.optimize(np.zeros((2, 1)), 0.0, X, Y, iterations, 1.0)
    # The gradient at w = 0 (derived in test_zero_weights_by_hand) either way.
    np.testing.assert_allclose(grads["dw"], [[0.25], [-1.75]])
    expected_w = np.zeros((2, 1)) - iterations * np.array([[0.25], [-1.75]])
    np.testing.assert_allclose(params["w"], expected_w)
    assert len(costs) == iterations
