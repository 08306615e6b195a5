"""The study's schema: axes, grids, sizes, the reference strategy."""
import numpy as np
import pytest

from lrperf import grid


def test_nbytes_follows_the_dtype():
    assert grid.nbytes(12288, 209) == 12288 * 209 * 8
    assert grid.nbytes(12288, 209, "float32") == 12288 * 209 * 4
    assert grid.nbytes(3, 4, np.float32) == 48


def test_grid_name_is_checked():
    assert grid.grid_name({}) == "full"
    assert grid.grid_name({grid.GRID_ENV: " Tiny "}) == "tiny"
    with pytest.raises(ValueError, match="LRPERF_BENCH_GRID must be one of .* got 'huge'"):
        grid.grid_name({grid.GRID_ENV: "huge"})
