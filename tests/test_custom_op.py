"""Chapter 14: operators written in Python: `autograd.Function` and MXNet's
`mx.operator` API (`CustomOp`, `CustomOpProp`, `register`, `nd.Custom`, `sym.Custom`).

Gradients are checked against finite differences (`check_numeric_gradient`) and
against formulas written out next to them; the errors name the operator and the fix.
"""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.test_utils import check_numeric_gradient

pytestmark = pytest.mark.ch14


@pytest.fixture(autouse=True)
def default_flags():
    assert (autograd.is_recording(), autograd.is_training()) == (False, False)
    yield
    autograd.set_recording(False)
    autograd.set_training(False)


# ---------------------------------------------------------------- autograd.Function

class _Sigmoid(autograd.Function):
    def forward(self, x):
        y = 1 / (1 + nd.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        y, = self.saved_tensors
        return dy * y * (1 - y)


class MulAdd(autograd.Function):
    """Two inputs, two outputs: (x * w, x + w)."""

    def forward(self, x, w):
        self.save_for_backward(x, w)
        return x * w, x + w

    def backward(self, d_prod, d_sum):
        x, w = self.saved_tensors
        return d_prod * w + d_sum, d_prod * x + d_sum


def test_function_forward_and_gradient_by_formula():
    x = nd.array([-2.0, 0.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = _Sigmoid()(x)
        z = (y * nd.array([1.0, 2.0, 3.0])).sum()
    z.backward()
    s = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 3.0])))
    assert_allclose(y.asnumpy(), s, rtol=1e-6)
    assert_allclose(x.grad.asnumpy(), [1, 2, 3] * s * (1 - s), rtol=1e-5)


def test_function_gradient_matches_finite_differences():
    check_numeric_gradient(lambda v: _Sigmoid()(v), [np.array([-1.5, 0.2, 2.0])])
    check_numeric_gradient(lambda x, w: MulAdd()(x, w)[0] * 2 + MulAdd()(x, w)[1],
                           [np.array([1.0, -2.0]), np.array([0.5, 3.0])])


def test_function_with_two_outputs_uses_both_gradients():
    x, w = nd.array([1.0, 2.0]), nd.array([3.0, 5.0])
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        prod, total = MulAdd()(x, w)
        z = (prod * 2 + total * 10).sum()
    z.backward()
    assert_allclose(x.grad.asnumpy(), 2 * np.array([3.0, 5.0]) + 10)
    assert_allclose(w.grad.asnumpy(), 2 * np.array([1.0, 2.0]) + 10)


def test_function_outside_record_computes_and_records_nothing():
    y = _Sigmoid()(nd.array([0.0]))
    assert_allclose(y.asnumpy(), [0.5])
    assert y._ag is None


def test_function_instance_is_called_once():
    f = _Sigmoid()
    f(nd.array([0.0]))
    with pytest.raises(MXNetError, match=r"Sigmoid: each Function instance can be "
                                         r"called only once.*Sigmoid\(\)\(x\)"):
        f(nd.array([0.0]))


def test_function_backward_with_the_wrong_number_of_gradients():
    class OneGrad(MulAdd):
        def backward(self, d_prod, d_sum):
            return d_prod

    x, w = nd.array([1.0]), nd.array([2.0])
    x.attach_grad()
    with autograd.record():
        z = OneGrad()(x, w)[0]
    with pytest.raises(MXNetError, match=r"OneGrad.backward returned 1 gradient\(s\), "
                                         r"but forward took 2 input\(s\)"):
        z.backward()


def test_function_returning_its_input_is_refused():
    class Identity(autograd.Function):
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

    x = nd.array([1.0])
    x.attach_grad()
    with autograd.record():
        with pytest.raises(MXNetError, match=r"Identity.forward returned an array that "
                                             r"is already in the graph.*x.copy\(\)"):
            Identity()(x)


def test_function_forward_runs_with_recording_paused():
    seen = []

    class Spy(autograd.Function):
        def forward(self, x):
            seen.append(autograd.is_recording())
            return x * 2

        def backward(self, dy):
            seen.append(autograd.is_recording())
            return dy * 2

    x = nd.array([1.0])
    x.attach_grad()
    with autograd.record():
        y = Spy()(x)
    y.backward()
    assert seen == [False, False]
    assert_allclose(x.grad.asnumpy(), [2.0])


# ------------------------------------------------------------------ mx.operator

class Softplus(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0]
        self.assign(out_data[0], req[0], nd.log(1 + nd.exp(-nd.abs(x))) + nd.relu(x))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], out_grad[0] / (1 + nd.exp(-in_data[0])))


@mx.operator.register('test_softplus')
class SoftplusProp(mx.operator.CustomOpProp):
    def __init__(self):
        super().__init__(need_top_grad=True)

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return Softplus()


class Scale(mx.operator.CustomOp):
    """y = scale * data @ weight.T: two inputs, a string attribute."""

    def __init__(self, scale):
        self.scale = scale

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], nd.dot(in_data[0], in_data[1].T) * self.scale)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        g = out_grad[0] * self.scale
        self.assign(in_grad[0], req[0], nd.dot(g, in_data[1]))
        self.assign(in_grad[1], req[1], nd.dot(g.T, in_data[0]))


@mx.operator.register('test_scaled_fc')
class ScaleProp(mx.operator.CustomOpProp):
    def __init__(self, units, scale='1'):
        super().__init__(need_top_grad=True)
        self.units, self.scale = int(units), float(scale)
        self.seen = (units, scale)

    def list_arguments(self):
        return ['data', 'weight']

    def infer_shape(self, in_shape):
        data = in_shape[0]
        return [data, [self.units, data[1]]], [[data[0], self.units]], []

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return Scale(self.scale)


def softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def test_custom_forward_backward_and_numeric_gradient():
    v = np.array([-3.0, -0.5, 0.0, 2.0])
    x = nd.array(v)
    x.attach_grad()
    with autograd.record():
        y = nd.Custom(x, op_type='test_softplus')
        z = (y * 3).sum()
    z.backward()
    assert_allclose(y.asnumpy(), softplus(v), rtol=1e-6)
    assert_allclose(x.grad.asnumpy(), 3 / (1 + np.exp(-v)), rtol=1e-5)
    check_numeric_gradient(lambda a: nd.Custom(a, op_type='test_softplus'), [v])


def test_custom_two_inputs_string_kwargs_and_gradients():
    data, weight = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[1.0, 0.0], [2.0, 3.0],
                                                                    [-1.0, 1.0]])
    out = nd.Custom(nd.array(data), nd.array(weight), op_type='test_scaled_fc', units=3,
                    scale=0.5)
    assert out.shape == (2, 3)
    assert_allclose(out.asnumpy(), 0.5 * data @ weight.T, rtol=1e-6)
    check_numeric_gradient(
        lambda d, w: nd.Custom(d, w, op_type='test_scaled_fc', units=3, scale=0.5),
        [data, weight])


def test_custom_prop_receives_strings_as_in_mxnet():
    seen = []

    @mx.operator.register('test_spy_prop')
    class SpyProp(SoftplusProp):
        def __init__(self, **kwargs):
            seen.append(kwargs)
            super().__init__()

    nd.Custom(nd.array([1.0]), op_type='test_spy_prop', scale=2, flag=True)
    assert seen[0] == {'scale': '2', 'flag': 'True'}


def test_custom_input_without_gradient_gets_req_null():
    reqs = []

    class Spy(Scale):
        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            reqs.append(list(req))
            super().backward(req, out_grad, in_data, out_data, in_grad, aux)

    @mx.operator.register('test_req_spy')
    class SpyProp(ScaleProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Spy(self.scale)

    x, w = nd.ones((1, 2)), nd.ones((2, 2))
    w.attach_grad()
    with autograd.record():
        y = nd.Custom(x, w, op_type='test_req_spy', units=2).sum()
    y.backward()
    assert reqs == [['null', 'write']]
    assert_allclose(w.grad.asnumpy(), np.ones((2, 2)))


def test_custom_with_two_outputs():
    class _Split(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * 2)
            self.assign(out_data[1], req[1], in_data[0] * in_data[0])

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0],
                        out_grad[0] * 2 + out_grad[1] * 2 * in_data[0])

    @mx.operator.register('test_two_outputs')
    class SplitProp(mx.operator.CustomOpProp):
        def list_outputs(self):
            return ['double', 'square']

        def create_operator(self, ctx, in_shapes, in_dtypes):
            return _Split()

    x = nd.array([1.0, 3.0])
    x.attach_grad()
    with autograd.record():
        double, square = nd.Custom(x, op_type='test_two_outputs')
        z = (double * 5 + square).sum()
    z.backward()
    assert_allclose(x.grad.asnumpy(), 10 + 2 * np.array([1.0, 3.0]))


def test_assign_honours_req():
    op = mx.operator.CustomOp()
    dst = nd.array([1.0, 2.0])
    op.assign(dst, 'add', nd.array([10.0, 10.0]))
    assert_allclose(dst.asnumpy(), [11.0, 12.0])
    op.assign(dst, 'null', nd.array([0.0, 0.0]))
    assert_allclose(dst.asnumpy(), [11.0, 12.0])
    op.assign(dst, 'inplace', nd.array([5.0, 6.0]))
    assert_allclose(dst.asnumpy(), [5.0, 6.0])
    with pytest.raises(MXNetError, match="req must be"):
        op.assign(dst, 'overwrite', dst)


def test_custom_out_and_is_train():
    flags = []

    class Spy(Softplus):
        def forward(self, is_train, req, in_data, out_data, aux):
            flags.append(is_train)
            super().forward(is_train, req, in_data, out_data, aux)

    @mx.operator.register('test_is_train')
    class SpyProp(SoftplusProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Spy()

    out = nd.zeros(2)
    result = nd.Custom(nd.array([0.0, 1.0]), op_type='test_is_train', out=out)
    assert result is out
    assert_allclose(out.asnumpy(), softplus(np.array([0.0, 1.0])), rtol=1e-6)
    with autograd.record():
        nd.Custom(nd.array([0.0]), op_type='test_is_train')
    assert flags == [False, True]


def test_unknown_op_type_names_register():
    with pytest.raises(MXNetError, match=r"no custom operator is registered as "
                                         r"'nope'.*@mx.operator.register\('nope'\)"):
        nd.Custom(nd.ones(1), op_type='nope')


def test_wrong_number_of_inputs():
    with pytest.raises(MXNetError, match=r"expects 2 NDArray input\(s\), its "
                                         r"list_arguments\(\) \['data', 'weight'\]"):
        nd.Custom(nd.ones((1, 2)), op_type='test_scaled_fc', units=2)


def test_replacing_out_data_instead_of_writing_is_refused():
    class Rebinds(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            out_data[0] = in_data[0] * 2          # the classic mistake

    @mx.operator.register('test_rebinds')
    class RebindsProp(mx.operator.CustomOpProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Rebinds()

    with pytest.raises(MXNetError, match=r"Rebinds.forward replaced out_data\[0\] in "
                                         r"the list.*self.assign\(out_data\[i\]"):
        nd.Custom(nd.ones(2), op_type='test_rebinds')


def test_backward_that_writes_nothing_is_refused():
    class Forgets(Softplus):
        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            pass

    @mx.operator.register('test_forgets')
    class ForgetsProp(SoftplusProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Forgets()

    x = nd.ones(2)
    x.attach_grad()
    with autograd.record():
        y = nd.Custom(x, op_type='test_forgets')
    with pytest.raises(MXNetError, match=r"Forgets.backward did not write "
                                         r"in_grad\[0\]"):
        y.backward()


def test_error_in_user_forward_names_the_operator():
    class Fails(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            raise ValueError('boom')

    @mx.operator.register('test_fails')
    class FailsProp(mx.operator.CustomOpProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Fails()

    with pytest.raises(MXNetError, match=r"Custom 'test_fails': Fails.forward raised "
                                         r"ValueError: boom") as info:
        nd.Custom(nd.ones(1), op_type='test_fails')
    assert isinstance(info.value.__cause__, ValueError)


def test_register_wants_a_prop_class():
    with pytest.raises(MXNetError, match="subclass of CustomOpProp"):
        mx.operator.register('test_bad')(Softplus)


# ------------------------------------------------------------- symbols, hybridize

def test_sym_custom_json_shapes_and_executor():
    data = mx.sym.var('data')
    out = mx.sym.Custom(data, op_type='test_scaled_fc', units=3, scale=2, name='fc')
    assert out.list_arguments() == ['data', 'fc_weight']
    arg_shapes, out_shapes, _ = out.infer_shape(data=(4, 5))
    assert arg_shapes == [(4, 5), (3, 5)] and out_shapes == [(4, 3)]
    node = json.loads(out.tojson())['nodes'][-1]
    # MXNet hands every attribute but op_type to the prop's constructor: no num_args
    assert node['op'] == 'Custom'
    assert node['attrs'] == {'op_type': 'test_scaled_fc', 'units': '3', 'scale': '2'}
    again = mx.sym.load_json(out.tojson())
    d, w = np.ones((4, 5)), np.arange(15.0).reshape(3, 5)
    ex = again.bind(mx.cpu(), {'data': nd.array(d), 'fc_weight': nd.array(w)},
                    args_grad={'fc_weight': nd.zeros((3, 5))})
    ex.forward(is_train=True)
    assert_allclose(ex.outputs[0].asnumpy(), 2 * d @ w.T)
    ex.backward(nd.ones((4, 3)))
    assert_allclose(ex.grad_dict['fc_weight'].asnumpy(), 2 * np.ones((3, 4)) @ d)


def test_hybridized_block_with_custom_matches_imperative():
    class Net(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.Custom(x * 2, op_type='test_softplus') * 3

    grads = []
    for hybrid in (False, True):
        net = Net()
        if hybrid:
            net.hybridize()
        x = nd.array([-1.0, 0.5, 2.0])
        x.attach_grad()
        with autograd.record():
            y = net(x).sum()
        y.backward()
        grads.append(x.grad.asnumpy())
    assert_allclose(grads[0], grads[1], rtol=1e-6)
    assert_allclose(grads[0], 6 / (1 + np.exp(-2 * np.array([-1.0, 0.5, 2.0]))),
                    rtol=1e-5)
