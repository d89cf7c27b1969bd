"""Chapter 2: autograd's scopes, backward, grad, grad_req and the in-place write guard.

Every expected gradient here is computed by hand (or by a formula written out next
to it), so a wrong rule or a wrong bookkeeping step in the tape shows up as a value.
"""

import gc
import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.ndarray.tape import _versions, live_nodes

pytestmark = pytest.mark.ch03
F64 = np.float64


@pytest.fixture(autouse=True)
def default_flags():
    """Every test starts and ends outside record() and in prediction mode."""
    assert (autograd.is_recording(), autograd.is_training()) == (False, False)
    yield
    autograd.set_recording(False)
    autograd.set_training(False)


def flags():
    return autograd.is_recording(), autograd.is_training()


def leaf(values, grad_req='write', **kw):
    x = nd.array(values, **kw)
    x.attach_grad(grad_req)
    return x


def no_live_graph():
    """No recorded graph is alive any more (collect cycles that tracebacks may hold)."""
    gc.collect()
    return not live_nodes() and not _versions


# ----------------------------------------------------------------------------- scopes

def test_record_pause_train_and_predict_mode_nest_and_restore():
    assert flags() == (False, False)
    with autograd.record():
        assert flags() == (True, True)
        with autograd.pause():
            assert flags() == (False, False)
            with autograd.train_mode():
                assert flags() == (False, True)
            assert flags() == (False, False)
            with autograd.record(train_mode=False):
                assert flags() == (True, False)
            assert flags() == (False, False)
        assert flags() == (True, True)
        with autograd.pause(train_mode=True):
            assert flags() == (False, True)
        with autograd.predict_mode():
            assert flags() == (True, False)
            with autograd.train_mode():
                assert flags() == (True, True)
            assert flags() == (True, False)
        assert flags() == (True, True)
    assert flags() == (False, False)
    with autograd.record(train_mode=False):
        assert flags() == (True, False)
    with autograd.train_mode():
        assert flags() == (False, True)
        with autograd.predict_mode():
            assert flags() == (False, False)
        assert flags() == (False, True)
    assert flags() == (False, False)


def test_scopes_restore_flags_after_exceptions():
    with pytest.raises(ZeroDivisionError):
        with autograd.record():
            with autograd.pause(train_mode=True):
                with autograd.predict_mode():
                    1 / 0
    assert flags() == (False, False)
    with autograd.record():
        with pytest.raises(KeyError):
            with autograd.pause():
                raise KeyError('x')
        assert flags() == (True, True)      # the outer scope is intact
    with pytest.raises(MXNetError):
        with autograd.train_mode():
            nd.array([1.0]).backward()
    assert flags() == (False, False)


def test_scope_restores_flags_changed_inside_it():
    with autograd.record():
        autograd.set_recording(False)
        autograd.set_training(False)
        assert flags() == (False, False)
    assert flags() == (False, False)
    autograd.set_training(True)
    with autograd.record():
        autograd.set_training(False)
    assert flags() == (False, True)          # restored to what it was on entry


def test_set_recording_and_set_training_return_the_previous_value():
    assert autograd.set_recording(True) is False
    assert autograd.is_recording() is True
    assert autograd.set_recording(True) is True
    assert autograd.set_recording(False) is True
    assert autograd.is_recording() is False
    assert autograd.set_training(1) is False
    assert autograd.is_training() is True
    assert autograd.set_training(False) is True
    assert autograd.set_training(False) is False


def test_set_recording_records_like_record():
    x = leaf([1.0, 2.0])
    autograd.set_recording(True)
    y = x * x
    autograd.set_recording(False)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [2, 4])


def test_flags_are_per_thread():
    seen = []
    with autograd.record():
        t = threading.Thread(target=lambda: seen.append(flags()))
        t.start()
        t.join()
        assert flags() == (True, True)
    assert seen == [(False, False)]


def test_not_recording_adds_no_autograd_entry():
    x = leaf([1.0, 2.0])
    y = x * 2 + 1
    assert y._ag is None
    with autograd.record():
        with autograd.pause():
            z = x * 3
    assert z._ag is None
    with pytest.raises(MXNetError, match=r'autograd\.record\(\)'):
        z.backward()


# ----------------------------------------------------------------------------- grad_req

def test_grad_req_write_overwrites():
    x = leaf([1.0, 2.0, 3.0])
    assert_array_equal(x.grad.asnumpy(), [0, 0, 0])
    for scale in (1.0, 5.0):
        with autograd.record():
            y = scale * x * x
        y.backward()
    assert_array_equal(x.grad.asnumpy(), [10, 20, 30])      # 5 * 2x, not the sum


def test_grad_req_add_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0], grad_req='add')
    for _ in range(3):
        with autograd.record():
            y = x * x
        y.backward(nd.array([1.0, 0.0, 10.0]))       # head gradient
    assert_array_equal(x.grad.asnumpy(), [6, 0, 180])      # 3 * 2x * head
    x.grad[:] = 0
    with autograd.record():
        y = x * 4
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [4, 4, 4])


def test_grad_req_null_leaves_the_gradient_untouched():
    x = leaf([1.0, 2.0], grad_req='null')
    w = leaf([3.0, 4.0])
    x.grad[:] = 7
    with autograd.record():
        y = x * w
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [7, 7])
    assert_array_equal(w.grad.asnumpy(), [1, 2])


def test_attach_grad_rejects_unknown_grad_req():
    with pytest.raises(MXNetError, match="'sum'"):
        nd.array([1.0]).attach_grad('sum')


def test_attach_grad_gives_a_zero_gradient_of_the_same_shape_and_context():
    x = nd.array([[1.0, 2.0]], ctx=mx.cpu(1), dtype=np.float64)
    assert x.grad is None
    x.attach_grad()
    assert x.grad.shape == (1, 2) and x.grad.dtype == np.float64
    assert x.grad.context is mx.cpu(1)
    assert_array_equal(x.grad.asnumpy(), 0)


# ----------------------------------------------------------------------------- backward

def test_head_gradient_gives_a_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * x
    y.backward(nd.array([1.0, 0.0, 10.0]))
    assert_array_equal(x.grad.asnumpy(), [2, 0, 60])


def test_head_gradient_shape_mismatch_names_both_shapes():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * x
    with pytest.raises(MXNetError, match=r'\(2,\)') as err:
        y.backward(nd.array([1.0, 2.0]))
    assert '(3,)' in str(err.value)
    with pytest.raises(MXNetError, match=r'\(3, 1\).*\(3,\)'):
        autograd.backward(y, nd.ones((3, 1)))
    y.backward(nd.ones((3,)))                 # the graph is still usable
    assert_array_equal(x.grad.asnumpy(), [2, 4, 6])


def test_head_gradient_count_must_match():
    x = leaf([1.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(MXNetError, match='2 head gradients for 1 heads'):
        autograd.backward([y], [nd.ones(1), nd.ones(1)])


def test_backward_on_several_heads_sums_their_gradients():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        y1 = x * x
        y2 = 3 * x
        y3 = (x * x * x).sum()
    autograd.backward([y1, y2, y3])
    # 2x + 3 + 3x^2
    assert_array_equal(x.grad.asnumpy(), [8, 19, 36])


def test_backward_on_several_heads_with_head_gradients_and_none():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y1 = x * x
        y2 = x * 10
    autograd.backward([y1, y2], [nd.array([1.0, 3.0]), None])
    assert_array_equal(x.grad.asnumpy(), [2 + 10, 12 + 10])


def test_same_head_twice_counts_twice():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = x * x
    autograd.backward([y, y])
    assert_array_equal(x.grad.asnumpy(), [4, 8])


def test_shared_subexpression_gets_the_sum_of_its_uses():
    x = leaf([2.0])
    with autograd.record():
        h = x * x                  # h = x^2
        y = h * h + h * 3 + x      # x^4 + 3x^2 + x
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [4 * 8 + 6 * 2 + 1])


def test_retain_graph_allows_a_second_backward_with_the_same_gradients():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        y = (x * x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.asnumpy()
    assert_array_equal(first, [3, 12, 27])
    y.backward()
    assert_array_equal(x.grad.asnumpy(), first)
    with pytest.raises(MXNetError, match='retain_graph'):
        y.backward()


def test_retain_graph_with_grad_req_add_doubles():
    x = leaf([1.0, 2.0], grad_req='add')
    with autograd.record():
        y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [4, 8])


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    with autograd.record():
        h = x * 2
        y = h * h
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [8, 16])
    with pytest.raises(MXNetError, match='retain_graph'):
        y.backward()
    with pytest.raises(MXNetError, match='retain_graph'):
        autograd.backward([y])
    assert_array_equal(x.grad.asnumpy(), [8, 16])            # untouched by the failures


def test_backward_outside_record_raises():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(MXNetError, match=r'autograd\.record\(\)'):
        y.backward()
    with pytest.raises(MXNetError, match=r'autograd\.record\(\)'):
        nd.array([1.0]).backward()


def test_backward_without_attach_grad_raises():
    with autograd.record():
        y = nd.array([1.0, 2.0]) * 2
    with pytest.raises(MXNetError, match='attach_grad'):
        y.backward()
    with pytest.raises(MXNetError, match='attach_grad'):
        autograd.grad(y, [nd.array([1.0])])


def test_backward_rejects_non_ndarray_heads():
    with pytest.raises(MXNetError, match='list'):
        autograd.backward([[1.0]])


def test_broadcast_gradients_sum_back_to_the_input_shape():
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = leaf([10.0, 20.0, 30.0])
    c = leaf([[2.0], [3.0]])
    with autograd.record():
        y = (x + b) * c
    y.backward()
    assert b.grad.shape == (3,)
    assert_array_equal(b.grad.asnumpy(), [5, 5, 5])
    assert_array_equal(c.grad.asnumpy(), [[66], [75]])        # row sums of x + b
    assert_array_equal(x.grad.asnumpy(), [[2, 2, 2], [3, 3, 3]])


def test_gradient_of_a_scalar_result_broadcast_into_a_vector():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = x.sum() * nd.array([1.0, 1.0, 1.0])    # (1,) broadcast to (3,)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [3, 3])


def test_long_chain_backpropagates_without_recursion_error():
    x = leaf([1.0, -1.0])
    with autograd.record():
        y = x
        for _ in range(3000):
            y = y + 1
        z = (y * y).sum()
    z.backward()
    assert_array_equal(y.asnumpy(), [3001, 2999])
    assert_array_equal(x.grad.asnumpy(), [6002, 5998])
    assert no_live_graph()


def test_long_chain_is_freed_without_recursion_error():
    x = leaf([1.0])
    with autograd.record():
        y = x
        for _ in range(3000):
            y = y * 1.0
    assert live_nodes()
    del y
    assert not live_nodes()


# ----------------------------------------------------------------------------- autograd.grad

def test_grad_returns_gradients_and_leaves_grad_untouched():
    x = leaf([1.0, 2.0, 3.0])
    w = leaf([2.0, 2.0, 2.0])
    unused = leaf([5.0])
    x.grad[:] = -1
    with autograd.record():
        y = (x * x * w).sum()
    gx, gw, gu = autograd.grad(y, [x, w, unused])
    assert_array_equal(gx.asnumpy(), [4, 8, 12])
    assert_array_equal(gw.asnumpy(), [1, 4, 9])
    assert_array_equal(gu.asnumpy(), [0])
    assert isinstance(gx, nd.NDArray) and gx is not x.grad
    assert_array_equal(x.grad.asnumpy(), [-1, -1, -1])
    assert_array_equal(w.grad.asnumpy(), [0, 0, 0])


def test_grad_with_a_single_variable_and_head_gradient():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = x * x
    grads = autograd.grad(y, x, head_grads=nd.array([3.0, 0.5]), retain_graph=True)
    assert isinstance(grads, list) and len(grads) == 1
    assert_array_equal(grads[0].asnumpy(), [6, 2])
    y.backward()                              # retained: backward still works
    assert_array_equal(x.grad.asnumpy(), [2, 4])


def test_grad_without_retain_graph_frees_the_graph():
    x = leaf([1.0])
    with autograd.record():
        y = x * x
    autograd.grad(y, [x])
    with pytest.raises(MXNetError, match='retain_graph'):
        y.backward()


def test_grad_create_graph_raises():
    x = leaf([1.0])
    with autograd.record():
        y = x * x
    with pytest.raises(MXNetError, match='create_graph'):
        autograd.grad(y, [x], create_graph=True)


def test_grad_needs_leaf_variables():
    x = leaf([1.0])
    with autograd.record():
        h = x * 2
        y = h * h
    with pytest.raises(MXNetError, match='attach_grad'):
        autograd.grad(y, [h])


# ----------------------------------------------------------------------------- mark_variables

def test_mark_variables_writes_into_the_given_buffers():
    x = nd.array([1.0, 2.0])
    gx = nd.zeros(2)
    w = nd.array([3.0, 4.0])
    gw = nd.ones(2)
    autograd.mark_variables([x, w], [gx, gw], grad_reqs=['write', 'add'])
    assert x.grad is gx and w.grad is gw
    with autograd.record():
        y = (x * w).sum()
    y.backward()
    assert_array_equal(gx.asnumpy(), [3, 4])
    assert_array_equal(gw.asnumpy(), [2, 3])          # 1 + x (accumulated)


def test_mark_variables_single_array_and_errors():
    x = nd.array([1.0, 2.0])
    g = nd.zeros(2)
    autograd.mark_variables(x, g)
    with autograd.record():
        y = x * x * x
    y.backward()
    assert_array_equal(g.asnumpy(), [3, 12])
    with pytest.raises(MXNetError, match=r'\(3,\).*\(2,\)'):
        autograd.mark_variables(x, nd.zeros(3))
    with pytest.raises(MXNetError, match='2 variables, 1 gradients'):
        autograd.mark_variables([x, x], [g])


# ----------------------------------------------------------------------------- cutting graphs

def test_detach_cuts_the_gradient():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        d = x.detach()
        y = d * x
    assert d._ag is None
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [1, 2, 3])     # only the x factor, not 2x


def test_stop_gradient_cuts_the_gradient():
    x = leaf([1.0, 2.0, 3.0])
    with autograd.record():
        y = nd.stop_gradient(x * x) * x + nd.BlockGrad(x)
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [1, 4, 9])


def test_attach_grad_on_an_intermediate_cuts_the_graph():
    a = leaf([1.0, 2.0])
    with autograd.record():
        h = a * 3
        h.attach_grad()
        out = (h * h).sum()
    out.backward()
    assert_array_equal(h.grad.asnumpy(), [6, 12])
    assert_array_equal(a.grad.asnumpy(), [0, 0])


# ----------------------------------------------------------------------------- worked examples

def test_chapter_example_rows_through_dot_and_stack():
    mx.random.seed(0)
    X = nd.random.uniform(shape=(2, 3))
    W = nd.random.uniform(shape=(3, 3))
    X.attach_grad()
    W.attach_grad()
    with autograd.record():
        H = X * 2
        first = nd.dot(H[0:1], W)[0]
        second = H[1]
        Y = nd.stack(first, second)
        loss = Y.sum()
    loss.backward()
    Xn, Wn = X.asnumpy(), W.asnumpy()
    # loss = sum_j (2 X0 . W[:, j]) + sum(2 X1)
    assert_allclose(loss.asnumpy(), [(2 * Xn[0] @ Wn).sum() + 2 * Xn[1].sum()], rtol=1e-6)
    assert_allclose(X.grad.asnumpy()[0], 2 * Wn.sum(axis=1), rtol=1e-6)
    assert_array_equal(X.grad.asnumpy()[1], [2, 2, 2])
    assert_allclose(W.grad.asnumpy(), 2 * np.repeat(Xn[0][:, None], 3, axis=1), rtol=1e-6)


def test_chapter_example_pick_and_threshold_mask():
    scores = leaf([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    labels = nd.array([1, 0, 0])
    with autograd.record():
        picked = nd.pick(scores, labels)            # [0.5, 0.7, 0.3]
        mask = (picked > 0.4) * 5.0                 # [5, 5, 0]
        total = (picked * mask).sum()
    total.backward()
    assert mask.dtype == np.float32
    assert_array_equal(mask.asnumpy(), [5, 5, 0])
    assert_allclose(total.asnumpy(), [6.0], rtol=1e-6)
    assert_array_equal(scores.grad.asnumpy(), [[0, 5, 0], [5, 0, 0], [0, 0, 0]])


def test_x_squared_example():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    with autograd.record():
        y = (2 * x * x).sum()
    y.backward()
    assert_array_equal(x.grad.asnumpy(), [[4, 8], [12, 16]])


# ----------------------------------------------------------------------------- in-place guard

def test_inplace_add_on_a_recorded_result_is_refused():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = w * w
        with pytest.raises(MXNetError, match='in-place'):
            y += 1
        with pytest.raises(MXNetError, match='in-place'):
            y *= 2
    assert_array_equal(y.asnumpy(), [1, 4])
    y.backward()
    assert_array_equal(w.grad.asnumpy(), [2, 4])


def test_setitem_on_a_recorded_result_is_refused():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = w * 3
        with pytest.raises(MXNetError, match='in-place'):
            y[0] = 5
        with pytest.raises(MXNetError, match='in-place'):
            y[:] = nd.array([7.0, 8.0])
    assert_array_equal(y.asnumpy(), [3, 6])


def test_writing_into_a_leaf_inside_record_is_refused():
    w = leaf([1.0, 2.0])
    with autograd.record():
        with pytest.raises(MXNetError, match=r'leaf.*attach_grad'):
            w[0] = 5                  # no graph uses w yet: still refused
        with pytest.raises(MXNetError, match='in-place'):
            w += 1
    assert_array_equal(w.asnumpy(), [1, 2])
    w[0] = 5                          # outside record and no graph: allowed
    assert_array_equal(w.asnumpy(), [5, 2])


def test_writing_a_recorded_value_into_a_plain_buffer_is_refused():
    X = leaf([[1.0, 2.0], [3.0, 4.0]])
    buf = nd.zeros((2, 2))
    with autograd.record():
        y = X * 2
        with pytest.raises(MXNetError, match='writing a recorded array'):
            buf[0] = y[0]
        with pytest.raises(MXNetError, match='writing a recorded array'):
            buf[:] = y
        buf[1] = nd.array([9.0, 9.0])          # a plain value into a plain buffer is fine
    assert_array_equal(buf.asnumpy(), [[0, 0], [9, 9]])


def test_copyto_of_a_recorded_value_is_refused_or_recorded():
    X = leaf([1.0, 2.0])
    buf = nd.zeros(2)
    with autograd.record():
        y = X * 2
        try:
            y.copyto(buf)
        except MXNetError:
            return                            # refused like buf[:] = y: acceptable
        loss = (buf * 3).sum()
    loss.backward()                           # recorded: the gradient reaches X
    assert_array_equal(X.grad.asnumpy(), [6, 6])


def test_writing_into_an_array_a_live_graph_saved_is_allowed_but_backward_refuses():
    """MXNet lets the write through and computes a wrong gradient; minimx lets the write
    through too (an optimizer step must not be blocked by a forgotten graph) and refuses
    the backward that would read the overwritten values."""
    for write in (lambda w, x: w.__setitem__(slice(None), 0),
                  lambda w, x: x.__setitem__(0, 1),
                  lambda w, x: w.__iadd__(1),
                  lambda w, x: nd.array([5.0, 5.0]).copyto(w)):
        w = leaf([1.0, 2.0])
        x = nd.array([3.0, 4.0])                  # a constant the graph saves too
        with autograd.record():
            y = w * x
        write(w, x)                               # allowed
        with pytest.raises(MXNetError, match=r'changed in place after it was recorded'):
            y.backward()
        assert_array_equal(w.grad.asnumpy(), [0, 0])     # the failed backward wrote nothing
    with autograd.record():
        y = w * x                                 # a new graph sees the new values
    y.backward()
    assert_array_equal(w.grad.asnumpy(), x.asnumpy())
    del y
    assert no_live_graph()


def test_the_backward_error_names_the_operator_and_the_saved_array():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = (w * 3).sum()
    w[:] = 0
    with pytest.raises(MXNetError, match=r'the input 0 \(shape \(2,\)\) that \w+ saved'):
        y.backward()


def test_a_write_through_a_view_changes_the_version_of_its_base():
    for write in (lambda w: w[0:1].__setitem__(slice(None), 1),
                  lambda w: w.reshape((3, 1)).__setitem__(2, 1),
                  lambda w: w.detach().__setitem__(slice(None), 1)):
        w = leaf([1.0, 2.0, 3.0])
        with autograd.record():
            y = w * w
        write(w)
        with pytest.raises(MXNetError, match='changed in place'):
            y.backward()


def test_a_recorded_view_is_versioned_through_its_base():
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    with autograd.record():
        row = w[1]                  # a view of w's buffer
        y = row * row
    w[0, 0] = 0                     # the same buffer: the graph refuses
    with pytest.raises(MXNetError, match='changed in place'):
        y.backward()


def test_writes_before_recording_or_after_backward_do_not_count():
    w = leaf([1.0, 2.0])
    w[:] = 5                        # no live graph: nothing to remember
    with autograd.record():
        y = w * w
    y.backward()
    assert_array_equal(w.grad.asnumpy(), [10, 10])
    w[:] = 0                        # the graph is freed: writes concern nobody
    with autograd.record():
        y = w * w
    y.backward()
    assert_array_equal(w.grad.asnumpy(), [0, 0])
    assert no_live_graph()


def test_writes_succeed_after_the_graph_is_garbage_collected():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = w * w
        z = y + 1
    w[:] = 0
    del y, z
    assert not live_nodes()          # freed at once by reference counting
    assert not _versions             # and its versions with it
    w[:] = 1
    assert_array_equal(w.asnumpy(), [1, 1])


def test_retained_graph_refuses_a_second_backward_after_an_update():
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = w * w
    y.backward(retain_graph=True)
    w[:] = 0
    with pytest.raises(MXNetError, match='changed in place'):
        y.backward()
    assert_array_equal(w.grad.asnumpy(), [2, 4])     # the first backward's, untouched
    del y
    assert no_live_graph()


def test_a_node_recorded_after_a_write_sees_the_new_version():
    """Two graphs share a buffer: a write between them breaks only the older one."""
    w = leaf([1.0, 2.0])
    with autograd.record():
        old = w * 2
    w[:] = 3
    with autograd.record():
        new = w * 4
    new.backward()
    assert_array_equal(w.grad.asnumpy(), [4, 4])
    with pytest.raises(MXNetError, match='changed in place'):
        old.backward()


def test_no_node_stays_live_after_backward_grad_or_dropped_graphs():
    assert no_live_graph()
    x = leaf([1.0, 2.0, 3.0, 4.0])
    with autograd.record():
        a, b = nd.split(x, num_outputs=2, axis=0)
        h = nd.concat(a * b, b, dim=0)
        y = (h[nd.array([0, 0, 2])] * 2).sum() + nd.topk(x, k=2, ret_typ='both')[0].sum()
    assert live_nodes()
    y.backward()
    del a, b, h                     # b's split output and h are not heads, but used
    assert not live_nodes()
    with autograd.record():
        y = (x * x).sum()
    autograd.grad(y, [x])
    assert not live_nodes()
    with autograd.record():
        y = nd.softmax(x.reshape((2, 2))) * 3
        with pytest.raises(MXNetError):
            y += 1                  # the failed write recorded y + 1 on the way
    del y
    assert no_live_graph()


# ----------------------------------------------------------------------------- dropout

def test_dropout_is_active_only_in_training_mode():
    ones = nd.ones((4, 50))
    mx.random.seed(1)
    with autograd.record():
        y = nd.Dropout(ones, p=0.5)
    values = set(np.unique(y.asnumpy()))
    assert values == {0.0, 2.0}
    with autograd.record(train_mode=False):
        assert_array_equal(nd.Dropout(ones, p=0.5).asnumpy(), 1)
    assert_array_equal(nd.Dropout(ones, p=0.5).asnumpy(), 1)     # outside: predicting
    with autograd.train_mode():
        assert set(np.unique(nd.Dropout(ones, p=0.5).asnumpy())) == {0.0, 2.0}
    with autograd.record():
        with autograd.predict_mode():
            assert_array_equal(nd.Dropout(ones, p=0.5).asnumpy(), 1)


def test_dropout_p_zero_is_the_identity_and_mode_always_always_drops():
    x = nd.array([[1.0, 2.0, 3.0, 4.0]] * 25)
    with autograd.train_mode():
        assert_array_equal(nd.Dropout(x, p=0.0).asnumpy(), x.asnumpy())
    mx.random.seed(3)
    y = nd.Dropout(x, p=0.5, mode='always')           # predicting, still drops
    kept = y.asnumpy() != 0
    assert 0 < kept.sum() < kept.size
    assert_array_equal(y.asnumpy()[kept], 2 * x.asnumpy()[kept])


def test_dropout_same_seed_same_mask_and_gradient():
    x = leaf(np.arange(1.0, 21.0))
    masks = []
    for _ in range(2):
        mx.random.seed(7)
        with autograd.record():
            y = nd.Dropout(x, p=0.25)
        y.backward()
        masks.append(x.grad.asnumpy())
    assert_array_equal(masks[0], masks[1])
    assert set(np.unique(masks[0])) == {0.0, np.float32(1 / 0.75)}
    assert_allclose(y.asnumpy(), x.asnumpy() * masks[0], rtol=1e-6)


# ----------------------------------------------------------------------------- contexts

def test_gradients_on_cpu1_stay_on_cpu1():
    x = leaf([1.0, 2.0], ctx=mx.cpu(1))
    assert x.grad.context is mx.cpu(1)
    with autograd.record():
        y = (x * x).sum() + x
    assert y.context is mx.cpu(1)
    y.backward(nd.array([1.0, 2.0], ctx=mx.cpu(1)))
    # d/dx_i of sum_j h_j (sum x^2 + x_j) = 2 x_i * sum(h) + h_i
    assert x.grad.context is mx.cpu(1)
    assert_array_equal(x.grad.asnumpy(), [2 * 3 + 1, 4 * 3 + 2])
    with autograd.record():
        y = x * 3
    (g,) = autograd.grad(y, [x])
    assert g.context is mx.cpu(1)
    assert_array_equal(g.asnumpy(), [3, 3])


def test_head_gradient_on_another_context_is_refused():
    x = leaf([1.0, 2.0], ctx=mx.cpu(1))
    with autograd.record():
        y = x * x
    with pytest.raises(MXNetError, match=r'cpu\(0\).*cpu\(1\)'):
        y.backward(nd.ones(2, ctx=mx.cpu(0)))


def test_gradient_flows_through_copies_between_contexts():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = x.as_in_context(mx.cpu(1))
        z = (y * y).sum().as_in_context(mx.cpu(0)) + x.copy().sum()
    z.backward()
    assert x.grad.context is mx.cpu(0)
    assert_array_equal(x.grad.asnumpy(), [2 * 1 + 1, 2 * 2 + 1])


# ----------------------------------------------------------------------------- fast paths

def _graph(x, w):
    """A small graph with a shared leaf, a broadcast, scalar forms and a reduction."""
    h = x * 2 + 1                       # scalar forms (the fast paths of x * 2, x + 1)
    z = (h * w + x).sum(axis=0)         # w broadcasts along axis 0
    return (z * z).sum() - 3 * x.sum()


@pytest.mark.parametrize('train_mode', [True, False])
def test_the_fast_backward_gives_the_general_paths_gradients(train_mode):
    """`y.backward()` (one head, default head gradient: the fast path) and
    `autograd.backward([y], [ones])` (the general path) agree exactly, and both
    agree with the gradients worked out by hand."""
    rng = np.random.default_rng(12)
    xv = rng.standard_normal((3, 4)).astype(np.float32)
    wv = rng.standard_normal((4,)).astype(np.float32)
    results = []
    for general in (False, True):
        x, w = leaf(xv), leaf(wv)
        with autograd.record(train_mode=train_mode):
            y = _graph(x, w)
        if general:
            autograd.backward([y], [nd.ones((1,))], train_mode=train_mode)
        else:
            y.backward(train_mode=train_mode)
        assert flags() == (False, False)            # the scopes are restored
        results.append((x.grad.asnumpy(), w.grad.asnumpy()))
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])
    # by hand, in float64: z_j = sum_i (2 x_ij + 1) w_j + x_ij, y = sum_j z_j^2 - 3 sum x
    x64, w64 = xv.astype(F64), wv.astype(F64)
    z = ((2 * x64 + 1) * w64 + x64).sum(axis=0)
    assert_allclose(results[0][0], np.broadcast_to(2 * z * (2 * w64 + 1) - 3, (3, 4)),
                    rtol=1e-5, atol=1e-5)
    assert_allclose(results[0][1], 2 * z * (2 * x64 + 1).sum(axis=0), rtol=1e-5)


def test_the_fast_backward_keeps_its_errors_and_restores_the_flags():
    x = leaf([1.0, 2.0])
    with autograd.record():
        y = (x * 2).sum()
    y.backward()
    with autograd.record():                          # released: the same error ...
        with pytest.raises(MXNetError, match='already freed'):
            y.backward()
        assert flags() == (True, True)               # ... and record() still holds
    w = leaf([1.0, 2.0])
    with autograd.record():
        y = (w * w).sum()
    w[:] = 5                                         # written in place after recording
    with pytest.raises(MXNetError, match='changed in place'):
        y.backward()
    assert flags() == (False, False)
    del y
    assert no_live_graph()


def test_the_fast_backward_honours_grad_req_and_retain_graph():
    x = leaf([1.0, 2.0], grad_req='add')
    with autograd.record():
        y = (x * 3).sum()
    y.backward(retain_graph=True)
    y.backward()                                     # a second pass, added in
    assert_array_equal(x.grad.asnumpy(), [6, 6])
    with pytest.raises(MXNetError, match='already freed'):
        y.backward()
    n = leaf([1.0, 2.0], grad_req='null')
    with autograd.record():
        y = (n * 3).sum()
    y.backward()
    assert_array_equal(n.grad.asnumpy(), [0, 0])     # 'null': left as it was


@pytest.mark.parametrize('dtype', ['float32', 'float64', 'int32', 'uint8'])
@pytest.mark.parametrize('shape', [(1,), (5,), (3, 4), (2, 3, 4)])
def test_a_sum_over_every_axis_is_numpys_sum_to_the_bit(shape, dtype):
    """`x.sum()` takes a shortcut (no NumPy scalar on the way); its value is NumPy's,
    to the last bit, in the input's dtype and with MXNet's shape (1,)."""
    values = np.random.default_rng(3).uniform(0, 100, size=shape).astype(dtype)
    for result in (nd.array(values, dtype=dtype).sum(),
                   nd.sum(nd.array(values, dtype=dtype), axis=tuple(range(len(shape))))):
        assert result.shape == (1,) and result.dtype == np.dtype(dtype)
        assert_array_equal(result.asnumpy(), np.array([values.sum()]).astype(dtype))
    kept = nd.array(values, dtype=dtype).sum(keepdims=True)
    assert kept.shape == (1,) * len(shape)
    assert_array_equal(kept.asnumpy(), values.sum(keepdims=True).astype(dtype))


def test_scalar_forms_of_add_and_multiply_keep_their_gradients():
    """The scalar rules of `x * c`, `c * x`, `x + c`, `c + x` (the fast cases), and of
    the others through their binary rules, by hand."""
    x = leaf([1.0, -2.0, 4.0])
    cases = [(lambda v: v * 2.5, 2.5), (lambda v: 2.5 * v, 2.5), (lambda v: v + 7, 1),
             (lambda v: 7 + v, 1), (lambda v: v - 7, 1), (lambda v: 7 - v, -1),
             (lambda v: v / 4, 0.25), (lambda v: v * np.float32(3), 3)]
    for f, slope in cases:
        with autograd.record():
            y = f(x)
        y.backward()
        assert_array_equal(x.grad.asnumpy(), [slope] * 3)
    i = nd.array([1, 2, 3], dtype='int32')            # an int array: the scalar is cast
    assert_array_equal((i * 2.7).asnumpy(), [2, 4, 6])
    assert (i * 2.7).dtype == np.int32


def _chains():
    """Graphs without branches (each node has one input in the graph), with what a
    chain can hold: constants, broadcasting, a step function, several outputs, and an
    operator that skips unneeded gradients."""
    c = nd.array([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]])
    data = nd.array([[1.0, 2.0], [3.0, -1.0]])
    yield 'constants', lambda x: ((x * c) / 2 - 1).sum()
    yield 'broadcast', lambda x: (c + x[0]).sum()                 # (3,) broadcast to (2, 3)
    yield 'step', lambda x: (x > 0).sum()                         # no gradient reaches x
    yield 'split', lambda x: nd.split(x, num_outputs=3, axis=1)[1].sum() * 3
    yield 'dense', lambda x: nd.FullyConnected(data, x[:, :2], num_hidden=2,
                                                no_bias=True).sum()


@pytest.mark.parametrize('name, f', list(_chains()), ids=[n for n, _ in _chains()])
def test_the_chain_backward_gives_the_general_paths_gradients(name, f):
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((2, 3)).astype(np.float32)
    grads = []
    for general in (False, True):
        x = leaf(xv)
        with autograd.record():
            y = f(x)
        if general:
            autograd.backward([y], [nd.ones(y.shape)])
        else:
            y.backward()
        grads.append(x.grad.asnumpy())
    assert_array_equal(grads[0], grads[1])
    expected = {'constants': np.array([[0.5, -1, 1.5], [0.25, 0.125, -0.5]]),
                'broadcast': np.array([[2, 2, 2], [0, 0, 0]]),
                'step': np.zeros((2, 3)),
                'split': np.array([[0, 3, 0], [0, 3, 0]]),
                'dense': np.array([[4, 1, 0], [4, 1, 0]])}[name]
    assert_allclose(grads[0], expected)


def test_versions_are_kept_only_while_a_graph_is_alive():
    """Chapter 3's version table: writes count only while some node lives, and the
    table empties when the last live node is freed (so it cannot grow for ever)."""
    assert no_live_graph()
    w = leaf([1.0, 2.0])
    w[:] = 3                             # no graph alive: nothing is noted
    assert not _versions
    with autograd.record():
        keep = w * 2                     # a graph kept alive, never backpropagated
    w[:] = 4                             # noted: keep saved w
    assert list(_versions.values()) == [1]
    with autograd.record():
        y = (w * w).sum()                # recorded after the write: its own versions
    y.backward()                         # not refused, and not the old graph's business
    assert_array_equal(w.grad.asnumpy(), [8, 8])
    assert live_nodes() == 1 and _versions
    del keep                             # the last live node: the table empties
    assert no_live_graph()


@pytest.mark.parametrize('branch', [False, True])   # the chain's path and the general one
def test_backward_frees_each_node_as_soon_as_its_rule_has_run(monkeypatch, branch):
    """Without retain_graph the pass releases each node after its rule, so what the
    last operators saved is gone before the first operator's rule runs (and with
    retain_graph=True it is all still there)."""
    import weakref
    x = leaf(np.ones((64, 64)))
    seen = []
    for retain in (False, True):
        with autograd.record():
            first = x * 2.0
            last = first.exp().exp()
            y = (last + first).sum() if branch else last.sum()
        saved = weakref.ref(last._data)      # saved by exp (its output) and its reader
        op = type(first._ag.op)
        rule = op.backward

        def spy(self, *args, **kwargs):
            seen.append(saved() is None)     # the first operator runs last
            return rule(self, *args, **kwargs)
        monkeypatch.setattr(op, 'backward', spy)
        del first, last
        y.backward(retain_graph=retain)
        monkeypatch.undo()
        expected = 2 * np.exp(2 + np.exp(2.0)) + (2 if branch else 0)
        assert np.allclose(x.grad.asnumpy(), expected, rtol=1e-5)
    assert seen == [True, False]
    del y
    assert no_live_graph()
