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


def test_a_first_look_times_the_fewest_processes_a_rank_test_can_find_a_change_with():
    from lrperf import grid, samples
    assert grid.GRIDS["full"].processes == samples.PROCESSES == 5
    assert grid.GRIDS["tiny"].processes == grid.GRIDS["quick"].processes == 4
    # 4 a side: the smallest two-sided exact p is 2/70, under 5%; 3 a side could not.
    assert samples.rank_test([1, 2, 3, 4], [5, 6, 7, 8]) == pytest.approx(2 / 70)
    assert samples.rank_test([1, 2, 3], [5, 6, 7]) == pytest.approx(0.1)
    assert samples.MIN_PROCESSES == 4
