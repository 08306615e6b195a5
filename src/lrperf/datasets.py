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


# The synthetic data set on disk, for data larger than a worker's memory.
ZARR_ARRAYS = ("X_train", "Y_train", "X_test", "Y_test")


def write_zarr(path, n_x, m_train, m_test=0, *, chunk=None, seed=0, dtype=np.float64,
               sharpness=3.0):
    """Write a synthetic train/test split to a Zarr store at ``path``, chunk by chunk.

    X_train (n_x, m_train) and X_test (n_x, m_test) are stored in chunks of
    ``chunk`` examples (whole columns: chunked along the examples only, as the
    dask strategy reads them), uncompressed (random normals do not compress;
    a codec would only cost CPU on every read); Y_* as (1, m) float64.  One
    chunk is in memory at a time: each is drawn from its own seeded generator
    (``(seed, chunk index)``), so the store does not depend on how it was
    written and never needs X whole.  Labels come from one logistic model
    with a seeded true weight vector, as ``synthetic``.  The store is built
    beside ``path`` and replaces it atomically.  Returns ``path``.
    """
    import zarr

    from . import atomic

    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise TypeError(f"dtype must be float64 or float32, got {dtype}")
    for name, value, low in (("n_x", n_x, 1), ("m_train", m_train, 1), ("m_test", m_test, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if chunk is None:
        chunk = max(1, (32 << 20) // (n_x * dtype.itemsize))  # about 32 MiB a chunk
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1 (examples per chunk), got {chunk!r}")
    w_true = (np.random.default_rng((seed, 0)).standard_normal(n_x)
              * (sharpness / np.sqrt(n_x)))
    path = Path(path)
    with atomic.replacing_folder(path) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        group.attrs.update({"lrperf": "synthetic", "n_x": int(n_x), "seed": int(seed),
                            "chunk": int(chunk), "sharpness": float(sharpness)})
        index = 1
        for part, m in (("train", m_train), ("test", m_test)):
            c = int(min(chunk, max(m, 1)))
            X = group.create_array(f"X_{part}", shape=(n_x, m), chunks=(n_x, c), dtype=dtype,
                                   compressors=None, fill_value=0.0)
            Y = group.create_array(f"Y_{part}", shape=(1, m), chunks=(1, c), dtype=np.float64,
                                   compressors=None, fill_value=0.0)
            for lo in range(0, m, c):
                hi = min(m, lo + c)
                rng = np.random.default_rng((seed, index))
                index += 1
                x = rng.standard_normal((n_x, hi - lo), dtype=dtype)
                p = sigmoid(w_true @ x)
                X[:, lo:hi] = x
                Y[:, lo:hi] = (rng.random(hi - lo) < p).astype(np.float64).reshape(1, -1)
    return path


def is_zarr_store(path):
    """Whether ``path`` is a folder holding a Zarr store (v2 or v3 metadata)."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file()
                                 for name in ("zarr.json", ".zgroup", ".zarray"))


def open_zarr(path):
    """The split stored by ``write_zarr``: X_* as dask arrays read chunk by chunk
    (never whole), Y_* as NumPy arrays (m labels: one row of X)."""
    try:
        import dask.array as da
        import zarr
    except ImportError:
        raise ImportError("reading a Zarr store needs dask and zarr: pip install 'lrperf[dask]'") \
            from None
    path = Path(path)
    try:
        group = zarr.open_group(str(path), mode="r")
        missing = [name for name in ZARR_ARRAYS if name not in group]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} cannot be read as a Zarr store: {exc}") from None
    if missing:
        raise ValueError(f"{path} is a Zarr store without {', '.join(missing)}: expected "
                         f"the arrays {', '.join(ZARR_ARRAYS)} (lrperf.datasets.write_zarr)")
    arrays = {}
    for name in ZARR_ARRAYS:
        if name.startswith("X"):
            arrays[name] = da.from_zarr(group[name])
        else:
            arrays[name] = np.asarray(group[name][...], dtype=np.float64)
    if arrays["X_train"].shape[0] != arrays["X_test"].shape[0]:
        raise ValueError(f"{path}: X_train and X_test must have the same n_x, got "
                         f"{arrays['X_train'].shape} and {arrays['X_test'].shape}")
    return Split(**arrays)
