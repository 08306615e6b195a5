"""Data: a seeded synthetic generator and the course's cat/non-cat loader."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .numerics import sigmoid

CAT_FILES = ("train_catvnoncat.h5", "test_catvnoncat.h5")


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classes: tuple = ("0", "1")


def synthetic(n_x, m, *, order="C", dtype=np.float64, seed=0, sharpness=3.0):
    """Seeded, separable-ish binary data: X (n_x, m) in the given layout, Y (1, m).

    Features are standard normal; labels are drawn from a logistic model with a
    random true weight vector scaled so that w*^T x ~ N(0, sharpness^2): mostly
    separable, with some label noise near the boundary.
    """
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise TypeError(f"dtype must be float64 or float32, got {dtype}")
    for name, value in (("n_x", n_x), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    rng = np.random.default_rng(seed)
    if order == "C":
        X = rng.standard_normal((n_x, m), dtype=dtype)
    else:
        X = rng.standard_normal((m, n_x), dtype=dtype).T
    w_true = rng.standard_normal(n_x) * (sharpness / np.sqrt(n_x))
    p = sigmoid(w_true @ X)
    Y = (rng.random(m) < p).astype(np.float64).reshape(1, m)
    return X, Y


def synthetic_split(n_x=500, m_train=2000, m_test=500, *, seed=0):
    """Train/test split of ``synthetic`` data, both drawn from one model."""
    X, Y = synthetic(n_x, m_train + m_test, order="F", seed=seed)
    return Split(X[:, :m_train], Y[:, :m_train], X[:, m_train:], Y[:, m_train:])


def load_catvnoncat(data_dir):
    """The course's cat/non-cat images as columns scaled to [0, 1].

    Returns a Split with X (12288, m) in Fortran order, as the course's
    ``X.reshape(m, -1).T / 255`` gives, and Y (1, m).
    """
    data_dir = Path(data_dir)
    paths = [data_dir / name for name in CAT_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"cat/non-cat data not found: {', '.join(missing)} "
            f"(expected {CAT_FILES[0]} and {CAT_FILES[1]} in {data_dir})"
        )
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "reading the cat/non-cat .h5 files needs h5py: pip install 'lrperf[data]'"
        ) from None
    arrays = {}
    classes = ("non-cat", "cat")
    for path, prefix in zip(paths, ("train", "test")):
        x, y, names = _read_cat_file(h5py, path, prefix)
        if prefix == "train" and names is not None:
            classes = names
        arrays[prefix] = (x.reshape(x.shape[0], -1).T / 255.0,
                          y.astype(np.float64).reshape(1, -1))
    return Split(*arrays["train"], *arrays["test"], classes=classes)


def _read_cat_file(h5py, path, prefix):
    """(images, labels, class names or None) of one course file; ValueError naming
    the file and the datasets it should hold when it is anything else."""
    expected = (f"{prefix}_set_x", f"{prefix}_set_y")
    what = f"the course's {path.name} (HDF5 with datasets {expected[0]} and {expected[1]})"
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        # Not HDF5, truncated, unreadable: h5py says which in its message.
        raise ValueError(f"{path} cannot be read as {what}: {exc}") from None
    with f:
        found = sorted(f.keys())
        missing = [n for n in expected if not isinstance(f.get(n), h5py.Dataset)]
        if missing:
            raise ValueError(f"{path} has no dataset {', '.join(missing)}: expected {what}, "
                             f"found {found[:10]}")
        try:
            x = np.asarray(f[expected[0]])
            y = np.asarray(f[expected[1]])
            names = None
            if prefix == "train" and isinstance(f.get("list_classes"), h5py.Dataset):
                names = tuple(c.decode() if isinstance(c, bytes) else str(c)
                              for c in np.asarray(f["list_classes"]))
        except (OSError, ValueError, TypeError) as exc:  # damaged data past a good header
            raise ValueError(f"{path} is damaged: reading {what} failed: {exc}") from None
    if x.ndim < 2 or x.dtype.kind not in "biuf" or x.shape[0] != y.size or y.size == 0:
        raise ValueError(
            f"{path}: expected {what} with one image per row of {expected[0]} and one label "
            f"each in {expected[1]}, got {expected[0]} of shape {x.shape} and dtype {x.dtype}, "
            f"{expected[1]} of shape {y.shape}")
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: {expected[1]} must hold labels 0 and 1, "
                         f"got values {np.unique(y)[:5].tolist()}")
    return x, y, names
