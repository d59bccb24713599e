"""Initialisers: shape and dtype, the spread each promises (on large samples), and seeds that fix the draw.

Fans follow a PyTorch Linear weight: shape (..., fan_out, fan_in). The shapes below are not square, so a
swapped fan would show.
"""
import math

import numpy as np
import pytest

from toygrad import init

SHAPE = (4, 300, 500)                   # 600,000 draws: a std estimate within ~0.1% (one standard error)
FAN_OUT, FAN_IN = SHAPE[-2:]


def draw(name, **kwargs):
    return init.initialise(name, SHAPE, np.random.default_rng(0), np.float64, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(init.INITIALISERS))
def test_shape_dtype_and_seed(name, dtype):
    a = init.initialise(name, (3, 2, 5), np.random.default_rng(7), dtype)
    assert a.shape == (3, 2, 5) and a.dtype == dtype
    np.testing.assert_array_equal(a, init.initialise(name, (3, 2, 5), np.random.default_rng(7), dtype))
    if name != "zeros":
        assert not np.array_equal(a, init.initialise(name, (3, 2, 5), np.random.default_rng(8), dtype))


def test_zeros():
    assert not draw("zeros").any()


def test_xavier_normal_std():
    std = math.sqrt(2 / (FAN_IN + FAN_OUT))
    assert draw("xavier_normal").std() == pytest.approx(std, rel=0.01)
    assert draw("xavier_normal", gain=2.0).std() == pytest.approx(2 * std, rel=0.01)


@pytest.mark.parametrize("name, bound", [("xavier_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
                                         ("torch_linear", 1 / math.sqrt(FAN_IN))])
def test_uniform_initialisers_fill_their_bounds(name, bound):
    a = draw(name)
    assert -bound <= a.min() < -0.999 * bound and 0.999 * bound < a.max() < bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)          # the std of Uniform[-a, a)


def test_torch_linear_reads_fan_in_override():
    bound = 1 / math.sqrt(7)
    a = draw("torch_linear", fan_in=7)
    assert 0.999 * bound < np.abs(a).max() < bound


def test_truncated_normal_stays_within_2_std():
    a = draw("truncated_normal", std=0.5)
    assert np.abs(a).max() <= 2 * 0.5 and np.abs(a).max() > 0.99
    assert a.std() == pytest.approx(init.TRUNCATED_STD * 0.5, rel=0.01)


@pytest.mark.parametrize("mode, fan", [("fan_in", FAN_IN), ("fan_out", FAN_OUT), ("fan_avg", (FAN_IN + FAN_OUT) / 2)])
def test_variance_scaling_std_is_sqrt_of_scale_over_fan(mode, fan):
    a = draw("variance_scaling", scale=2.0, mode=mode)
    assert a.std() == pytest.approx(math.sqrt(2.0 / fan), rel=0.01)
    assert np.abs(a).max() <= 2 * math.sqrt(2.0 / fan) / init.TRUNCATED_STD         # truncated at 2 std
