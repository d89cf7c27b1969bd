"""Appendix "The operator library": nd.random's new samplers and the legacy random names.

Seeded determinism (same seed, same numbers), shapes/dtypes/contexts as in MXNet, and
distribution checks with loose statistical tolerances (many samples, several standard
errors of slack, fixed seeds so that the tests are deterministic).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError

pytestmark = pytest.mark.appendix

N = 40000

SAMPLERS = {   # name -> call drawing `shape` samples on `ctx`
    'random.uniform': lambda shape, ctx: nd.random.uniform(-1, 2, shape=shape, ctx=ctx),
    'random.normal': lambda shape, ctx: nd.random.normal(1, 2, shape=shape, ctx=ctx),
    'random.randn': lambda shape, ctx: nd.random.randn(*shape, ctx=ctx),
    'random.poisson': lambda shape, ctx: nd.random.poisson(3, shape=shape, ctx=ctx),
    'random.exponential': lambda shape, ctx: nd.random.exponential(2, shape=shape,
                                                                   ctx=ctx),
    'random.gamma': lambda shape, ctx: nd.random.gamma(2, 3, shape=shape, ctx=ctx),
    'random.negative_binomial': lambda shape, ctx: nd.random.negative_binomial(
        3, 0.4, shape=shape, ctx=ctx),
    'random.generalized_negative_binomial': lambda shape, ctx:
        nd.random.generalized_negative_binomial(2, 0.5, shape=shape, ctx=ctx),
    'random_uniform': lambda shape, ctx: nd.random_uniform(-1, 2, shape, ctx),
    'random_normal': lambda shape, ctx: nd.random_normal(1, 2, shape, ctx),
    'uniform': lambda shape, ctx: nd.uniform(-1, 2, shape, ctx),
    'normal': lambda shape, ctx: nd.normal(1, 2, shape, ctx),
    'random_poisson': lambda shape, ctx: nd.random_poisson(3, shape, ctx),
    'random_exponential': lambda shape, ctx: nd.random_exponential(0.5, shape, ctx),
    'random_gamma': lambda shape, ctx: nd.random_gamma(2, 3, shape, ctx),
    'random_negative_binomial': lambda shape, ctx: nd.random_negative_binomial(
        3, 0.4, shape, ctx),
    'random_generalized_negative_binomial': lambda shape, ctx:
        nd.random_generalized_negative_binomial(2, 0.5, shape, ctx),
    'random_randint': lambda shape, ctx: nd.random_randint(-3, 5, shape, ctx),
}
# name -> (mean, variance) of the distributions drawn above
MOMENTS = {
    'uniform': (0.5, 9 / 12), 'normal': (1, 4), 'randn': (0, 1), 'poisson': (3, 3),
    'exponential': (2, 4), 'gamma': (6, 18), 'negative_binomial': (4.5, 11.25),
    'generalized_negative_binomial': (2, 4), 'randint': (0.5, (8 * 8 - 1) / 12),
}


def _kind(name: str) -> str:
    return name.split('.')[-1].replace('random_', '')


@pytest.mark.parametrize('name', sorted(SAMPLERS))
def test_same_seed_same_numbers(name):
    draw = SAMPLERS[name]
    mx.random.seed(123)
    first = draw((5,), mx.cpu()).asnumpy()
    second = draw((5,), mx.cpu()).asnumpy()
    mx.random.seed(123)
    again = draw((5,), mx.cpu()).asnumpy()
    assert_array_equal(first, again)
    if name != 'random_randint':
        assert not np.array_equal(first, second)


@pytest.mark.parametrize('name', sorted(SAMPLERS))
def test_shapes_dtypes_and_contexts(name):
    out = SAMPLERS[name]((2, 3), mx.cpu(1))
    assert out.shape == (2, 3) and out.context == mx.cpu(1)
    assert out.dtype == (np.int32 if name == 'random_randint' else np.float32)


@pytest.mark.parametrize('name', sorted(SAMPLERS))
def test_sample_mean_and_variance(name):
    mean, var = MOMENTS[_kind(name)]
    mx.random.seed(2024)
    x = SAMPLERS[name]((N,), mx.cpu()).asnumpy().astype(np.float64)
    # Five standard errors of the mean; the variance within 10 %.
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / N), (x.mean(), mean)
    assert abs(x.var() - var) < 0.1 * var, (x.var(), var)


def test_spellings_share_one_stream():
    results = []
    for draw in (lambda: nd.random.uniform(shape=4), lambda: nd.uniform(shape=4),
                 lambda: nd.random_uniform(shape=4), lambda: mx.random.uniform(shape=4)):
        mx.random.seed(5)
        results.append(draw().asnumpy())
    for other in results[1:]:
        assert_array_equal(results[0], other)
    mx.random.seed(5)
    a = nd.random.normal(shape=3)
    mx.random.seed(5)
    assert_array_equal(a.asnumpy(), nd.random_normal(shape=3).asnumpy())


def test_discrete_samplers_give_whole_numbers():
    for draw in (lambda: nd.random.poisson(2.5, shape=100),
                 lambda: nd.random.negative_binomial(2, 0.3, shape=100),
                 lambda: nd.random.generalized_negative_binomial(3, 0.2, shape=100)):
        x = draw().asnumpy()
        assert_array_equal(x, np.round(x))
        assert (x >= 0).all()
    assert (nd.random.poisson(0, shape=5).asnumpy() == 0).all()
    assert (nd.random.negative_binomial(3, 1.0, shape=5).asnumpy() == 0).all()


def test_generalized_negative_binomial_with_zero_alpha_is_poisson():
    mx.random.seed(3)
    x = nd.random.generalized_negative_binomial(4, 0, shape=N).asnumpy()
    assert abs(x.mean() - 4) < 0.05 and abs(x.var() - 4) < 0.3


def test_array_parameters_draw_per_element():
    # MXNet 1.9.1: sample_poisson([1, 2]) has shape (2,), with shape=(3,) (2, 3).
    lam = nd.array([1, 2])
    assert nd.sample_poisson(lam).shape == (2,)
    assert nd.random.poisson(lam, shape=(3,)).shape == (2, 3)
    mx.random.seed(0)
    rates = nd.array([1, 50, 400])
    x = nd.sample_poisson(rates, shape=N).asnumpy()
    assert_allclose(x.mean(axis=1), [1, 50, 400], rtol=0.02)
    loc, scale = nd.array([[0, 10]]), nd.array([[1, 0.01]])
    y = nd.random.normal(loc, scale, shape=(N,)).asnumpy()
    assert y.shape == (1, 2, N)
    assert_allclose(y.mean(axis=-1), [[0, 10]], atol=0.03)
    assert_allclose(y.std(axis=-1), [[1, 0.01]], rtol=0.03)
    for sampler, params in [(nd.sample_uniform, (nd.zeros(2), nd.ones(2))),
                            (nd.sample_normal, (nd.zeros(2), nd.ones(2))),
                            (nd.sample_exponential, (nd.ones(2),)),
                            (nd.sample_gamma, (nd.ones(2), nd.ones(2))),
                            (nd.sample_negative_binomial, (nd.ones(2), nd.ones(2) / 2)),
                            (nd.sample_generalized_negative_binomial,
                             (nd.ones(2), nd.ones(2)))]:
        assert sampler(*params, shape=3).shape == (2, 3)
    with pytest.raises(MXNetError, match='all numbers or all NDArrays'):
        nd.random.normal(nd.zeros(2), 1.0)
    with pytest.raises(MXNetError, match='all numbers or all NDArrays'):
        nd.random.gamma(nd.ones(2), nd.ones(3))


def test_exponential_scale_against_legacy_rate():
    mx.random.seed(11)
    a = nd.random.exponential(scale=4, shape=N).asnumpy()
    mx.random.seed(11)
    b = nd.random_exponential(lam=0.25, shape=N).asnumpy()
    assert_allclose(a, b, rtol=1e-6)
    assert abs(a.mean() - 4) < 0.1


def test_like_samplers_copy_shape_dtype_context():
    data = nd.zeros((2, 3), ctx=mx.cpu(1), dtype='float64')
    for name in ('uniform_like', 'normal_like', 'poisson_like', 'exponential_like',
                 'gamma_like', 'negative_binomial_like',
                 'generalized_negative_binomial_like'):
        out = getattr(nd.random, name)(data)
        assert (out.shape, out.dtype, out.context) == ((2, 3), np.float64, mx.cpu(1))
    assert (nd.random.uniform_like(data, low=5, high=6).asnumpy() >= 5).all()


def test_randn_and_defaults():
    assert nd.random.randn(2, 3).shape == (2, 3)
    assert nd.random.randn().shape == (1,)
    assert nd.random.poisson().shape == (1,)
    assert nd.random.randn(4, dtype='float64').dtype == np.float64
    assert nd.random.seed is mx.random.seed
    assert nd.random.randint(0, 3, shape=2).dtype == np.int32


def test_out_argument():
    target = nd.zeros((2, 2))
    assert nd.random.poisson(5, out=target) is target
    assert target.asnumpy().sum() > 0
    assert nd.random_uniform(2, 3, out=target) is target
    assert (target.asnumpy() >= 2).all()
    assert nd.random_randint(1, 2, shape=(2, 2), out=target) is target
    assert (target.asnumpy() == 1).all()


def test_multinomial_shapes_and_frequencies():
    # Expected shapes printed by MXNet 1.9.1.
    assert nd.random.multinomial(nd.array([0.2, 0.8])).shape == (1,)
    assert nd.random.multinomial(nd.array([0.2, 0.8]), shape=(2, 3)).shape == (2, 3)
    probs = nd.array([[0, 0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1, 0]])
    out = nd.random.multinomial(probs)
    assert out.shape == (2,) and out.dtype == np.int32
    mx.random.seed(1)
    draws = nd.random.multinomial(probs, shape=N, dtype='int64').asnumpy()
    assert draws.dtype == np.int64
    for row, p in zip(draws, probs.asnumpy()):
        assert_allclose(np.bincount(row, minlength=5) / N, p, atol=0.01)
    assert nd.sample_multinomial(probs, shape=3).shape == (2, 3)


def test_multinomial_log_probabilities_and_their_gradient():
    # The gradient of sum(log p[draw]) is the number of draws of each category / p,
    # as MXNet 1.9.1 gives (there: [[0, 3.75], [4, 2]] for draws [[1, 1, 1], [0, 0, 1]]).
    probs = nd.array([[0.2, 0.8], [0.5, 0.5]], dtype='float64')
    probs.attach_grad()
    with autograd.record():
        drawn, logp = nd.random.multinomial(probs, shape=3, get_prob=True)
    logp.backward()
    d = drawn.asnumpy()
    p = probs.asnumpy()
    assert_allclose(logp.asnumpy(), np.log(np.take_along_axis(p, d, axis=1)))
    counts = np.stack([np.bincount(row, minlength=2) for row in d])
    assert_allclose(probs.grad.asnumpy(), counts / p)


def test_shuffle_permutes_rows_and_routes_gradients_back():
    data = nd.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
    mx.random.seed(9)
    a = nd.random.shuffle(data)
    mx.random.seed(9)
    b = nd.shuffle(data)
    assert_array_equal(a.asnumpy(), b.asnumpy())
    rows = sorted(tuple(r) for r in a.asnumpy())
    assert rows == [tuple(r) for r in data.asnumpy()]
    assert data.asnumpy()[0, 0] == 0                       # input untouched
    order = (a.asnumpy()[:, 0] // 3).astype(int)          # a[i] is data[order[i]]
    data.attach_grad()
    weights = nd.array([[1], [2], [3], [4]])
    mx.random.seed(9)                                      # the same permutation again
    with autograd.record():
        y = (nd.random.shuffle(data) * weights).sum()
    y.backward()
    expected = np.zeros((4, 3))
    expected[order] = weights.asnumpy()                    # row order[i] went to i
    assert_array_equal(data.grad.asnumpy(), expected)


def test_per_context_generators_are_independent_and_seedable():
    mx.random.seed(4)
    a0 = nd.random.gamma(2, shape=3, ctx=mx.cpu(0)).asnumpy()
    a1 = nd.random.gamma(2, shape=3, ctx=mx.cpu(1)).asnumpy()
    assert not np.array_equal(a0, a1)
    mx.random.seed(8, ctx=mx.cpu(1))
    b1 = nd.random.gamma(2, shape=3, ctx=mx.cpu(1)).asnumpy()
    mx.random.seed(8, ctx=mx.cpu(1))
    assert_array_equal(b1, nd.random.gamma(2, shape=3, ctx=mx.cpu(1)).asnumpy())


@pytest.mark.gpu
def test_samplers_on_gpu():
    ctx = mx.gpu(0)
    for name, draw in SAMPLERS.items():
        mx.random.seed(1)
        x = draw((N,), ctx)
        assert x.context == ctx
        mean, var = MOMENTS[_kind(name)]
        assert abs(x.asnumpy().mean() - mean) < 5 * np.sqrt(var / N), name
    probs = nd.array([[0.2, 0.8]], ctx=ctx)
    assert nd.random.multinomial(probs, shape=4).context == ctx
    assert nd.random.shuffle(nd.arange(6, ctx=ctx)).context == ctx
    assert nd.sample_poisson(nd.array([1, 2], ctx=ctx), shape=3).shape == (2, 3)
