"""Appendix "The operator library": nd.linalg. Values against NumPy, gradients against
finite differences, and MXNet 1.9.1's numbers where its conventions decide the answer
(the triangle a triangular routine reads, potrf's symmetric gradient)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.appendix

RNG = np.random.default_rng(0)
M = RNG.normal(size=(3, 3))
SPD = M @ M.T + 3 * np.eye(3)                     # symmetric positive definite
L = np.linalg.cholesky(SPD)
L_UPPER_JUNK = L + np.triu(np.ones((3, 3)), 1)    # a lower triangle plus ignored junk
B = RNG.normal(size=(3, 2))
BATCH = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
linalg = nd.linalg


def f64(a):
    return nd.array(a, dtype='float64')


def sym(a):
    """The symmetric part: finite differences then see what potrf's gradient means."""
    return (a + a.swapaxes(-1, -2)) / 2


def test_namespace_and_flat_names():
    for name in ('gemm', 'gemm2', 'potrf', 'potri', 'trsm', 'trmm', 'syrk', 'inverse',
                 'det', 'slogdet', 'sumlogdiag', 'extractdiag', 'makediag',
                 'extracttrian', 'maketrian', 'gelqf'):
        assert getattr(nd, 'linalg_' + name) is getattr(mx.nd.linalg, name)
    # MXNet 1.9.1 has nd.linalg.syevd but no flat nd.linalg_syevd: neither has minimx
    assert callable(mx.nd.linalg.syevd) and not hasattr(nd, 'linalg_syevd')


def test_gemm_and_gemm2_values():
    # The example of MXNet's documentation.
    a, b, c = nd.ones((2, 2)), nd.ones((3, 2)), nd.ones((2, 3))
    out = linalg.gemm(a, b, c, transpose_b=True, alpha=2.0, beta=10.0)
    assert_allclose(out.asnumpy(), np.full((2, 3), 14.0))
    x, y, z = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(2, 5, 4)), RNG.normal(
        size=(2, 3, 5))
    out = linalg.gemm(f64(x), f64(y), f64(z), transpose_a=True, transpose_b=True,
                      alpha=0.5, beta=-2.0)
    expected = 0.5 * x.swapaxes(1, 2) @ y.swapaxes(1, 2) - 2 * z
    assert_allclose(out.asnumpy(), expected)
    w = RNG.normal(size=(2, 4, 2))
    assert_allclose(linalg.gemm2(f64(x), f64(w), transpose_a=True, alpha=3).asnumpy(),
                    3 * x.swapaxes(1, 2) @ w)


def test_gemm_axis_is_swapaxes_then_gemm():
    # axis=1: the rows sit on axis 1, the columns on the last axis, the rest is batch.
    a, b = RNG.normal(size=(2, 3, 4, 5)), RNG.normal(size=(2, 5, 4, 6))
    c = RNG.normal(size=(2, 3, 4, 6))
    out = linalg.gemm(f64(a), f64(b), f64(c), axis=1).asnumpy()

    def swap(t):
        return np.swapaxes(t, 1, 2)

    assert out.shape == (2, 3, 4, 6)
    assert_allclose(out, swap(swap(a) @ swap(b) + swap(c)))
    check_numeric_gradient(lambda x, y: linalg.gemm2(x, y, axis=1, alpha=2.0),
                           [a[:1, :, :2, :2], b[:1, :2, :2, :3]])


@pytest.mark.parametrize('ta,tb', [(False, False), (True, False), (False, True),
                                   (True, True)])
def test_gemm_gradients(ta, tb):
    a = RNG.normal(size=(2, 3)) if not ta else RNG.normal(size=(3, 2))
    b = RNG.normal(size=(3, 4)) if not tb else RNG.normal(size=(4, 3))
    c = RNG.normal(size=(2, 4))
    check_numeric_gradient(lambda x, y, z: linalg.gemm(x, y, z, transpose_a=ta,
                                                      transpose_b=tb, alpha=1.5,
                                                      beta=0.5), [a, b, c])
    check_numeric_gradient(lambda x, y: linalg.gemm2(x, y, transpose_a=ta,
                                                    transpose_b=tb, alpha=-2.0), [a, b])


def test_syrk():
    assert_allclose(linalg.syrk(f64(B), alpha=0.5).asnumpy(), 0.5 * B @ B.T)
    assert_allclose(linalg.syrk(f64(B), transpose=True).asnumpy(), B.T @ B)
    check_numeric_gradient(lambda a: linalg.syrk(a, alpha=0.5), [B])
    check_numeric_gradient(lambda a: linalg.syrk(a, transpose=True), [B])


def test_potrf_potri_values():
    assert_allclose(linalg.potrf(f64(SPD)).asnumpy(), L)
    assert_allclose(linalg.potri(f64(L)).asnumpy(), np.linalg.inv(SPD))
    # MXNet's documented example.
    assert_allclose(linalg.potri(nd.array([[2.0, 0], [0.5, 2.0]])).asnumpy(),
                    [[0.265625, -0.0625], [-0.0625, 0.25]])
    # Both read one triangle only.
    junk = np.tril(SPD) + 5 * np.triu(np.ones((3, 3)), 1)
    assert_allclose(linalg.potrf(f64(junk)).asnumpy(), L)
    assert_allclose(linalg.potri(f64(L_UPPER_JUNK)).asnumpy(), np.linalg.inv(SPD))
    assert_allclose(linalg.potrf(f64(BATCH @ BATCH.swapaxes(1, 2))).asnumpy(),
                    np.linalg.cholesky(BATCH @ BATCH.swapaxes(1, 2)))
    with pytest.raises(MXNetError, match='positive definite'):
        linalg.potrf(nd.array([[1.0, 2.0], [2.0, 1.0]]))


def _weighted_grads(f, *arrays):
    """Gradients of sum(w * f(...)) for w = 1/n, 2/n, ..., as in the MXNet reference
    script that printed the expected numbers below."""
    xs = [f64(a) for a in arrays]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = f(*xs)
    y.backward(f64(np.arange(1, y.size + 1).reshape(y.shape) / y.size))
    return [x.grad.asnumpy() for x in xs]


def test_gradients_match_mxnet_conventions():
    # Expected numbers printed by MXNet 1.9.1 for the same inputs (seeded RNG above).
    (g,) = _weighted_grads(linalg.potri, L_UPPER_JUNK)
    assert_allclose(g, [[-0.03715, 0, 0], [-0.122017, -0.184892, 0],
                        [-0.113307, -0.155366, -0.195212]], atol=2e-6)
    ga, gb = _weighted_grads(lambda a, b: linalg.trmm(a, b, alpha=2.0), L_UPPER_JUNK, B)
    assert_allclose(ga, [[-0.837323, 0, 0], [-2.096454, -3.058715, 0],
                         [-3.355585, -4.581185, -2.856475]], atol=2e-6)
    assert_allclose(gb, [[0.418676, 1.01992], [1.313022, 1.821473],
                         [4.062676, 4.875212]], atol=2e-6)
    ga, _ = _weighted_grads(lambda a, b: linalg.trmm(a, b, lower=False), L_UPPER_JUNK, B)
    assert_allclose(ga, [[-0.418662, -0.768123, -0.451769], [0, -1.529358, -0.940003],
                         [0, 0, -1.428237]], atol=2e-6)
    ga, gb = _weighted_grads(lambda a, b: linalg.trsm(a, b, alpha=2.0), L_UPPER_JUNK, B)
    assert_allclose(ga, [[0.264008, 0, 0], [0.740867, 1.007421, 0],
                         [0.741841, 0.950857, 0.672516]], atol=2e-6)
    assert_allclose(gb, [[0.200892, 0.37815], [0.660447, 0.864849],
                         [0.683731, 0.820477]], atol=2e-6)
    (g,) = _weighted_grads(linalg.potrf, SPD)
    assert_allclose(g, g.T)                                  # the symmetric gradient


def test_potrf_gradient_is_the_symmetric_one():
    check_numeric_gradient(lambda a: linalg.potrf(sym(a)), [SPD])
    check_numeric_gradient(lambda a: linalg.potrf(sym(a)), [BATCH @ BATCH.swapaxes(1, 2)])


def test_potri_gradient():
    check_numeric_gradient(linalg.potri, [L])
    (g,) = _weighted_grads(linalg.potri, L_UPPER_JUNK)
    assert_array_equal(np.triu(g, 1), 0)                     # the ignored triangle


@pytest.mark.parametrize('transpose', [False, True])
@pytest.mark.parametrize('rightside', [False, True])
@pytest.mark.parametrize('lower', [False, True])
def test_trmm_trsm_values_and_gradients(transpose, rightside, lower):
    a = L_UPPER_JUNK if lower else L_UPPER_JUNK.T
    t = np.tril(a) if lower else np.triu(a)
    op_t = t.T if transpose else t
    b = B.T if rightside else B
    kwargs = {'transpose': transpose, 'rightside': rightside, 'lower': lower,
              'alpha': 1.5}
    product = 1.5 * (b @ op_t if rightside else op_t @ b)
    assert_allclose(linalg.trmm(f64(a), f64(b), **kwargs).asnumpy(), product)
    solved = linalg.trsm(f64(a), f64(b), **kwargs).asnumpy()
    assert_allclose(solved @ op_t if rightside else op_t @ solved, 1.5 * b)
    check_numeric_gradient(lambda x, y: linalg.trmm(x, y, **kwargs), [t, b])
    check_numeric_gradient(lambda x, y: linalg.trsm(x, y, **kwargs), [t, b])


def test_inverse_det_slogdet_values():
    assert_allclose(linalg.inverse(f64(BATCH)).asnumpy(), np.linalg.inv(BATCH))
    # MXNet's documented examples.
    assert_allclose(linalg.det(nd.array([[1., 4.], [2., 3.]])).asnumpy(), [-5])
    assert linalg.det(nd.array(M)).shape == (1,)
    assert_allclose(linalg.det(f64(BATCH)).asnumpy(), np.linalg.det(BATCH))
    sign, logabsdet = linalg.slogdet(nd.array([[[2., 3.], [1., 4.]],
                                               [[1., 2.], [4., 3.]]]))
    assert_allclose(sign.asnumpy(), [1, -1])
    assert_allclose(logabsdet.asnumpy(), [1.609438, 1.609438], rtol=1e-6)
    with pytest.raises(MXNetError, match='singular'):
        linalg.inverse(nd.array([[1., 2.], [2., 4.]]))


def test_inverse_det_slogdet_sumlogdiag_gradients():
    check_numeric_gradient(linalg.inverse, [M])
    check_numeric_gradient(linalg.det, [M])
    check_numeric_gradient(linalg.det, [BATCH])
    check_numeric_gradient(lambda a: linalg.slogdet(a)[1], [BATCH])
    check_numeric_gradient(linalg.sumlogdiag, [BATCH])
    assert_allclose(linalg.sumlogdiag(f64(SPD)).asnumpy(), [np.log(np.diag(SPD)).sum()])
    # Expected numbers printed by MXNet 1.9.1: det(M) and its gradient (weight 1).
    (g,) = _weighted_grads(linalg.det, M)
    assert_allclose(g, [[0.03451, 0.545342, 0.797862], [0.513565, -0.923592, -0.291341],
                        [0.295286, 0.021717, -0.053492]], atol=2e-6)


def test_diagonal_and_triangle_helpers():
    a = nd.array([[1.0, 2.0], [3.0, 4.0]])
    # The examples of MXNet's documentation.
    assert_array_equal(linalg.extractdiag(a).asnumpy(), [1, 4])
    assert_array_equal(linalg.extractdiag(a, offset=1).asnumpy(), [2])
    assert_array_equal(linalg.makediag(nd.array([1.0, 2.0]), 1).asnumpy(),
                       [[0, 1, 0], [0, 0, 2], [0, 0, 0]])
    assert linalg.makediag(nd.array([[1.0, 2.0], [3.0, 4.0]])).shape == (2, 2, 2)
    assert_array_equal(linalg.extracttrian(a).asnumpy(), [1, 3, 4])
    assert_array_equal(linalg.extracttrian(a, lower=False).asnumpy(), [1, 2, 4])
    assert_array_equal(linalg.extracttrian(a, 1).asnumpy(), [2])
    assert_array_equal(linalg.extracttrian(a, -1).asnumpy(), [3])
    v = nd.array([1.0, 2.0, 3.0])
    assert_array_equal(linalg.maketrian(v).asnumpy(), [[1, 0], [2, 3]])
    assert_array_equal(linalg.maketrian(v, lower=False).asnumpy(), [[1, 2], [0, 3]])
    assert_array_equal(linalg.maketrian(v, offset=1).asnumpy(),
                       [[0, 1, 2], [0, 0, 3], [0, 0, 0]])
    assert_array_equal(linalg.maketrian(v, offset=-1).asnumpy(),
                       [[0, 0, 0], [1, 0, 0], [2, 3, 0]])
    assert_allclose(linalg.extractdiag(f64(M), offset=-1).asnumpy(), np.diag(M, -1))
    with pytest.raises(MXNetError, match='triangle'):
        linalg.maketrian(nd.ones(4))


def test_diagonal_and_triangle_gradients():
    check_numeric_gradient(lambda a: linalg.extractdiag(a, offset=1), [BATCH])
    check_numeric_gradient(lambda a: linalg.makediag(a, offset=-2), [B])
    check_numeric_gradient(lambda a: linalg.extracttrian(a, offset=-1), [BATCH])
    check_numeric_gradient(lambda a: linalg.extracttrian(a, lower=False), [M])
    check_numeric_gradient(lambda a: linalg.maketrian(a, offset=1), [RNG.normal(
        size=(2, 6))])


def test_gelqf_and_syevd_documented_examples():
    # The examples of MXNet's documentation (LAPACK's signs for gelqf).
    q, lq = linalg.gelqf(f64([[1., 2., 3.], [4., 5., 6.]]))
    assert_allclose(q.asnumpy(), [[-0.26726124, -0.53452248, -0.80178373],
                                  [0.87287156, 0.21821789, -0.43643578]], rtol=1e-7)
    assert_allclose(lq.asnumpy(), [[-3.74165739, 0.], [-8.55235974, 1.96396101]],
                    rtol=1e-7)
    u, w = linalg.syevd(f64([[[1., 2.], [2., 4.]], [[1., 2.], [2., 5.]]]))
    assert_allclose(u.asnumpy(), [[[0.89442719, -0.4472136], [0.4472136, 0.89442719]],
                                  [[0.92387953, -0.38268343], [0.38268343, 0.92387953]]],
                    rtol=1e-7)
    assert_allclose(w.asnumpy(), [[0., 5.], [0.17157288, 5.82842712]], atol=1e-12)
    with pytest.raises(MXNetError, match='at most as many rows'):
        linalg.gelqf(nd.ones((3, 2)))


def test_gelqf_and_syevd_reconstruct():
    a = RNG.normal(size=(2, 3, 5))
    q, lq = (t.asnumpy() for t in linalg.gelqf(f64(a)))
    assert_allclose(lq @ q, a, atol=1e-12)
    assert_allclose(q @ q.swapaxes(1, 2), np.broadcast_to(np.eye(3), (2, 3, 3)),
                    atol=1e-12)
    assert_array_equal(np.triu(lq, 1), 0)
    s = sym(RNG.normal(size=(2, 4, 4)))
    u, w = (t.asnumpy() for t in linalg.syevd(f64(s)))
    assert_allclose(u @ s, w[..., None] * u, atol=1e-12)
    assert (np.diff(w, axis=-1) >= 0).all()
    biggest = np.take_along_axis(u, np.abs(u).argmax(-1)[..., None], -1)
    assert (biggest > 0).all()                 # MXNet's sign: largest entry positive


def test_gelqf_and_syevd_gradients():
    a = RNG.normal(size=(2, 2, 4))
    check_numeric_gradient(lambda x: linalg.gelqf(x)[0], [a])
    check_numeric_gradient(lambda x: linalg.gelqf(x)[1], [a])
    s = RNG.normal(size=(2, 3, 3))
    check_numeric_gradient(lambda x: linalg.syevd(sym(x))[0], [s])
    check_numeric_gradient(lambda x: linalg.syevd(sym(x))[1], [s])
    # Expected numbers printed by MXNet 1.9.1 for the inputs drawn here (weights 1/n..).
    rng = np.random.default_rng(3)
    a3 = rng.normal(size=(2, 3, 3))
    a3 = a3 + a3.transpose(0, 2, 1)
    (g,) = _weighted_grads(lambda x: linalg.syevd(x)[1], a3)
    assert_allclose(g[0], [[0.438778, -0.10706, -0.068089], [-0.10706, 0.287513,
                                                             -0.057387],
                           [-0.068089, -0.057387, 0.273709]], atol=2e-6)
    (g,) = _weighted_grads(lambda x: linalg.syevd(x)[0], a3)
    assert_allclose(g[1], [[0.005737, 0.064792, 0.039343], [0.064792, -0.225523,
                                                             0.147327],
                           [0.039343, 0.147327, 0.219785]], atol=2e-6)
    g4 = rng.normal(size=(2, 2, 4))
    (g,) = _weighted_grads(lambda x: linalg.gelqf(x)[0], g4)
    assert_allclose(g[0], [[-0.189271, 0.187342, -0.176748, 0.144257],
                           [0.330149, -0.036114, 0.444918, -0.216204]], atol=2e-6)


def test_checks_dtype_batch_and_shape():
    with pytest.raises(MXNetError, match='float32 and float64'):
        linalg.det(nd.array([[1, 2], [3, 4]], dtype='int32'))
    with pytest.raises(MXNetError, match='batch'):
        linalg.gemm2(nd.ones((2, 3, 3)), nd.ones((3, 3, 3)))
    with pytest.raises(MXNetError, match='cannot multiply'):
        linalg.gemm2(nd.ones((2, 3)), nd.ones((2, 3)))
    with pytest.raises(MXNetError, match='C has shape'):
        linalg.gemm(nd.ones((2, 3)), nd.ones((3, 4)), nd.ones((2, 3)))
    with pytest.raises(MXNetError, match='square'):
        linalg.potrf(nd.ones((2, 3)))
    with pytest.raises(MXNetError, match='at least 2 axes'):
        linalg.inverse(nd.ones(3))
    with pytest.raises(MXNetError, match='rows'):
        linalg.trsm(nd.ones((3, 3)), nd.ones((2, 2)))


def test_out_argument():
    target = nd.zeros((3, 3), dtype='float64')
    assert linalg.inverse(f64(SPD), out=target) is target
    assert_allclose(target.asnumpy(), np.linalg.inv(SPD))
    sign, logabsdet = nd.zeros(1), nd.zeros(1)
    linalg.slogdet(nd.array(M), out=[sign, logabsdet])
    assert_allclose(logabsdet.asscalar(), np.log(abs(np.linalg.det(M))), rtol=1e-5)


@pytest.mark.gpu
def test_linalg_on_gpu_matches_cpu():
    ctx = mx.gpu(0)
    spd = BATCH @ BATCH.swapaxes(1, 2)
    for op, args in [(linalg.potrf, (spd,)), (linalg.potri, (L,)), (linalg.inverse, (M,)),
                     (linalg.det, (BATCH,)), (linalg.sumlogdiag, (spd,)),
                     (linalg.trsm, (L_UPPER_JUNK, B)), (linalg.trmm, (L_UPPER_JUNK, B)),
                     (linalg.extracttrian, (M,)), (linalg.makediag, (B,)),
                     (lambda x: linalg.gelqf(x)[1], (B.T,)),
                     (lambda x: linalg.syevd(x)[0], (spd,))]:
        cpu = op(*[f64(a) for a in args]).asnumpy()
        gpu = op(*[nd.array(a, ctx=ctx, dtype='float64') for a in args])
        assert gpu.context == ctx
        assert_allclose(gpu.asnumpy(), cpu, rtol=1e-10, atol=1e-12)
    x = nd.array(spd, ctx=ctx, dtype='float64')
    x.attach_grad()
    with autograd.record():
        y = linalg.potrf(x).sum() + linalg.slogdet(x)[1].sum()
    y.backward()
    assert np.isfinite(x.grad.asnumpy()).all()
