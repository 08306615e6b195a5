"""Data loading, the synthetic generator, and training on the real cat data."""
import math

import numpy as np
import pytest

import lrperf
from lrperf import datasets


def accuracy(Y_pred, Y):
    return 100.0 - float(np.mean(np.abs(Y_pred - Y))) * 100.0


def test_cat_data_shapes_and_scale(cat_data):
    assert cat_data.X_train.shape == (12288, 209) and cat_data.Y_train.shape == (1, 209)
    assert cat_data.X_test.shape == (12288, 50) and cat_data.Y_test.shape == (1, 50)
    assert cat_data.X_train.flags.f_contiguous  # as the course's reshape(m, -1).T gives
    assert 0.0 <= cat_data.X_train.min() and cat_data.X_train.max() <= 1.0
    assert set(np.unique(cat_data.Y_train)) == {0.0, 1.0}
    assert cat_data.classes == ("non-cat", "cat")


def test_cat_column_is_one_flattened_image(cat_data):
    import h5py

    from conftest import DATA_DIR

    with h5py.File(DATA_DIR / "train_catvnoncat.h5") as f:
        image = np.asarray(f["train_set_x"][7])  # (64, 64, 3) uint8
    np.testing.assert_array_equal(cat_data.X_train[:, 7] * 255.0, image.reshape(-1))


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train_catvnoncat.h5.*test_catvnoncat.h5"):
        datasets.load_catvnoncat(tmp_path)


def test_model_on_cat_data_reaches_known_accuracy(cat_data):
    # The course reports 99% train and 70% test accuracy for 2000 steps at 0.005.
    d = lrperf.model(cat_data.X_train, cat_data.Y_train, cat_data.X_test, cat_data.Y_test,
                     num_iterations=2000, learning_rate=0.005)
    assert accuracy(d["Y_prediction_train"], cat_data.Y_train) >= 98.0
    assert accuracy(d["Y_prediction_test"], cat_data.Y_test) >= 68.0
    assert len(d["costs"]) == 20 and math.isclose(d["costs"][0], math.log(2), rel_tol=1e-12)
    assert all(a > b for a, b in zip(d["costs"], d["costs"][1:]))
    assert d["w"].shape == (12288, 1) and isinstance(d["b"], float)
    assert d["learning_rate"] == 0.005 and d["num_iterations"] == 2000


def test_every_strategy_steps_like_numpy_on_cat_data(strategy, cat_data):
    w = np.zeros((12288, 1))
    args = (w, 0.0, cat_data.X_train, cat_data.Y_train, 2, 0.005)
    p, g, _ = lrperf.optimize(*args, strategy=strategy)
    p_ref, g_ref, _ = lrperf.optimize(*args, strategy="numpy")
    np.testing.assert_allclose(p["w"], p_ref["w"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(g["dw"], g_ref["dw"], rtol=1e-9, atol=1e-15)
    assert math.isclose(g["db"], g_ref["db"], rel_tol=1e-9)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_synthetic_is_seeded_and_shaped(order, dtype):
    X, Y = datasets.synthetic(5, 40, order=order, dtype=dtype, seed=7)
    X2, Y2 = datasets.synthetic(5, 40, order=order, dtype=dtype, seed=7)
    X3, _ = datasets.synthetic(5, 40, order=order, dtype=dtype, seed=8)
    assert X.shape == (5, 40) and Y.shape == (1, 40) and X.dtype == dtype
    assert X.flags.c_contiguous if order == "C" else X.flags.f_contiguous
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    assert not np.array_equal(X, X3)
    assert set(np.unique(Y)) <= {0.0, 1.0}


def test_synthetic_is_learnable():
    split = datasets.synthetic_split(n_x=20, m_train=2000, m_test=1000, seed=1)
    d = lrperf.model(split.X_train, split.Y_train, split.X_test, split.Y_test, 300, 0.5)
    # Labels are drawn from a logistic model with margin ~ N(0, 3^2): a fitted
    # linear model gets most of them, far above the 50% of chance.
    assert accuracy(d["Y_prediction_test"], split.Y_test) > 80.0


@pytest.mark.parametrize("kwargs, exc, pattern", [
    ({"order": "K"}, ValueError, r"order must be 'C' or 'F', got 'K'"),
    ({"dtype": np.int32}, TypeError, r"dtype must be float64 or float32, got int32"),
])
def test_synthetic_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        datasets.synthetic(3, 4, **kwargs)


@pytest.mark.parametrize("n_x, m", [(0, 4), (3, -1), (2.5, 4)])
def test_synthetic_bad_sizes(n_x, m):
    with pytest.raises(ValueError, match=r"(n_x|m) must be an int >= 1"):
        datasets.synthetic(n_x, m)
