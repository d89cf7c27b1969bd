"""Chapter 4: Parameter, ParameterDict, initializers, deferred initialization and its errors."""

import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import DeferredInitializationError, Parameter, ParameterDict, nn
from minimx.gluon import block as block_module
from minimx.ndarray.tape import Leaf

pytestmark = pytest.mark.ch05


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


# ----------------------------------------------------------------------------- shapes

def test_shape_setter_fills_unknown_dims_and_rejects_conflicts():
    p = Parameter('fc_weight', shape=(4, 0), allow_deferred_init=True)
    p.shape = (0, 3)
    assert p.shape == (4, 3)
    with pytest.raises(MXNetError, match=r"Parameter 'fc_weight'.*\(5, 3\).*incompatible.*"
                                         r"\(4, 3\)"):
        p.shape = (5, 3)
    with pytest.raises(MXNetError, match='fc_weight'):
        p.shape = (4, 3, 1)


def test_repr_and_attributes():
    p = Parameter('dense0_weight', shape=(4, 0), lr_mult=0.5, wd_mult=0.0)
    # MXNet 1.9.1 prints the dtype as it was given: its default is NumPy's scalar
    # type (<class 'numpy.float32'>), Dense passes the string 'float32'
    assert repr(p) == ("Parameter dense0_weight (shape=(4, 0), "
                       "dtype=<class 'numpy.float32'>)")
    assert (p.name, p.lr_mult, p.wd_mult, p.grad_req) == ('dense0_weight', 0.5, 0.0, 'write')
    assert repr(Parameter('x', shape=3, dtype='float64')) == \
        'Parameter x (shape=(3,), dtype=float64)'
    assert Parameter('y', differentiable=False).grad_req == 'null'


# ----------------------------------------------------------------------------- initialize

def test_initialize_on_several_contexts_identical_and_deterministic():
    def draw():
        mx.random.seed(7)
        p = Parameter('w_weight', shape=(3, 4))
        p.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
        return p
    p, q = draw(), draw()
    assert p.list_ctx() == [mx.cpu(0), mx.cpu(1)]
    a0, a1 = (a.asnumpy() for a in p.list_data())
    assert_array_equal(a0, a1)
    assert_array_equal(a0, q.data(mx.cpu(0)).asnumpy())
    assert np.abs(a0).max() <= 0.07 and a0.std() > 0.01          # default Uniform(0.07)
    for arr in p.list_data():
        assert type(arr._ag) is Leaf and arr._ag.req == 'write'
        assert arr.grad is arr._ag.grad


def test_data_without_ctx_and_current_context():
    p = Parameter('w', shape=(2,), init='ones')
    p.initialize(ctx=mx.cpu(1))
    assert p.data().context == mx.cpu(1)                         # the only copy
    q = Parameter('v', shape=(2,), init='zeros')
    q.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    with mx.cpu(1):
        assert q.data().context == mx.cpu(1)
    assert q.data().context == mx.cpu(0)


def test_wrong_context_error_names_contexts():
    p = Parameter('w', shape=(2,), init='ones')
    p.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    with pytest.raises(RuntimeError, match=r"Parameter 'w' was not initialized on context "
                                           r"cpu\(3\); it is on \[cpu\(0\), cpu\(1\)\]"):
        p.data(mx.cpu(3))


def test_reinitialize_warns_and_keeps_values_unless_forced():
    mx.random.seed(0)
    p = Parameter('w_weight', shape=(5,))
    p.initialize(init='normal')
    before = p.data().asnumpy()
    with pytest.warns(UserWarning, match="'w_weight' is already initialized.*force_reinit"):
        p.initialize(init='ones')
    assert_array_equal(p.data().asnumpy(), before)
    p.initialize(init='ones', force_reinit=True)
    assert_array_equal(p.data().asnumpy(), np.ones(5))


def test_initializer_precedence():
    p = Parameter('a_weight', shape=(2, 2), init='ones')
    p.initialize(default_init=mx.init.Zero())
    assert_array_equal(p.data().asnumpy(), 1)                    # own init beats default
    q = Parameter('b_weight', shape=(2, 2), init='ones')
    q.initialize(init=mx.init.Constant(3.0))
    assert_array_equal(q.data().asnumpy(), 3)                    # explicit init beats own
    r = Parameter('c_bias', shape=(3,))
    r.initialize(default_init=mx.init.Constant(2.0))
    assert_array_equal(r.data().asnumpy(), 2)                    # as MXNet: _init_weight
    s = Parameter('d_bias', shape=(3,))
    with pytest.raises(MXNetError, match=r"Xavier initializer cannot be applied to "
                                         r"'d_bias' of shape \(3,\).*bias_initializer='zeros'"):
        s.initialize(default_init=mx.init.Xavier())


def test_unknown_shape_without_deferral_is_an_error():
    p = Parameter('w', shape=(3, 0))
    with pytest.raises(MXNetError, match=r"Cannot initialize Parameter 'w'.*\(3, 0\).*"
                                         "deferred"):
        p.initialize()


# ----------------------------------------------------------------------------- deferred init

def test_deferred_init_and_its_error():
    p = Parameter('dense0_weight', shape=(4, 0), allow_deferred_init=True)
    p.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    assert p.list_ctx() == [mx.cpu(0), mx.cpu(1)]
    with pytest.raises(DeferredInitializationError) as info:
        p.data()
    msg = str(info.value)
    assert isinstance(info.value, MXNetError)
    assert "'dense0_weight'" in msg and 'first forward pass' in msg
    assert 'pass one batch' in msg and 'in_units' in msg and 'in_channels' in msg
    p.shape = (4, 3)
    mx.random.seed(0)
    p._finish_deferred_init()
    assert p.data(mx.cpu(1)).shape == (4, 3)


def test_never_initialized_error():
    p = Parameter('dense5_weight', shape=(2, 2))
    for read in (p.data, p.list_data, p.grad, p.list_ctx):
        with pytest.raises(RuntimeError, match=r"Parameter 'dense5_weight' has not been "
                                               r"initialized. Call net.initialize\(\)"):
            read()


def test_layer_initializes_known_params_at_once_and_defers_the_rest():
    mx.random.seed(0)
    d = nn.Dense(4)
    d.initialize()
    assert repr(d.weight) == 'Parameter dense0_weight (shape=(4, 0), dtype=float32)'
    conv = nn.Conv2D(4, 3)   # MXNet 1.9.1: Conv2D passes NumPy's type, Dense a string
    assert repr(conv.weight).endswith("dtype=<class 'numpy.float32'>)")
    assert_array_equal(d.bias.data().asnumpy(), np.zeros(4))
    with pytest.raises(DeferredInitializationError, match='dense0_weight'):
        d.weight.data()
    d(nd.ones((2, 3, 2)))
    assert d.weight.shape == (4, 6) and d.weight.data().shape == (4, 6)
    conv = nn.Conv2D(5, 3, groups=1)
    conv.initialize()
    conv(nd.ones((1, 2, 4, 4)))
    assert conv.weight.shape == (5, 2, 3, 3)


def test_forward_of_never_initialized_network():
    net = nn.Dense(2, in_units=3)
    with pytest.raises(RuntimeError, match=r"'dense0_weight' has not been initialized"):
        net(nd.ones((1, 3)))


class TwoHeads(gluon.Block):
    def __init__(self, eager=False, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.body = nn.Dense(8, activation='relu', in_units=5 if eager else 0)
            self.head_a = nn.Dense(2, in_units=8 if eager else 0)
            self.head_b = nn.Dense(3, in_units=8 if eager else 0)

    def forward(self, x, head='a'):
        h = self.body(x)
        return self.head_a(h) if head == 'a' else self.head_b(h)


def test_branch_pitfall_and_both_fixes(tmp_path):
    net = TwoHeads()
    net.initialize()
    net(nd.ones((4, 5)), 'a')
    target = str(tmp_path / 'net.npz')
    with pytest.raises(DeferredInitializationError, match="'twoheads0_dense2_weight'.*every "
                                                          "branch.*in_units"):
        net.collect_params().save(target)
    assert not os.path.exists(target) and os.listdir(tmp_path) == []
    with autograd.predict_mode():
        net(nd.ones((1, 5)), 'b')                                # fix 1
    net.collect_params().save(target)
    assert len(nd.load(target)) == 6
    eager = TwoHeads(eager=True)                                 # fix 2
    eager.initialize()
    assert all(p.data().shape for p in eager.collect_params().values())


# ----------------------------------------------------------------------------- values

def test_set_data_everywhere_and_shape_check():
    p = Parameter('w', shape=(2, 2), init='zeros')
    p.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    p.set_data(nd.array([[1, 2], [3, 4]]))
    for arr in p.list_data():
        assert_array_equal(arr.asnumpy(), [[1, 2], [3, 4]])
    with pytest.raises(AssertionError, match=r"Parameter 'w': set_data got a value of "
                                             r"shape \(3,\), incompatible with the "
                                             r"parameter's shape \(2, 2\)"):
        p.set_data(nd.ones((3,)))           # MXNet: an AssertionError


def test_set_data_on_deferred_parameter_initializes_it():
    p = Parameter('w', shape=(2, 0), allow_deferred_init=True)
    p.initialize(ctx=mx.cpu(1))
    p.set_data(np.arange(6.0).reshape(2, 3))
    assert p.shape == (2, 3)
    assert p.data().context == mx.cpu(1)
    assert_array_equal(p.data().asnumpy(), np.arange(6.0).reshape(2, 3))


def test_grad_req_null_and_back():
    p = Parameter('w', shape=(2,), init='ones')
    p.initialize()
    p.grad_req = 'null'
    assert p.data()._ag is None
    with pytest.raises(RuntimeError, match=r"gradient of Parameter 'w' because its grad_req "
                                           r"is 'null'"):
        p.grad()
    p.grad_req = 'add'
    x = nd.array([1.0, 2.0])
    for _ in range(2):
        with autograd.record():
            y = (p.data() * x).sum()
        y.backward()
    assert_array_equal(p.grad().asnumpy(), [2.0, 4.0])
    assert p.data()._ag.fresh
    p.zero_grad()
    assert_array_equal(p.grad().asnumpy(), [0.0, 0.0])
    with pytest.raises(MXNetError, match="grad_req must be 'write', 'add' or 'null'"):
        p.grad_req = 'sometimes'


def test_reset_ctx_and_cast():
    p = Parameter('w', shape=(2,), init='ones')
    p.initialize(ctx=mx.cpu(0))
    p.set_data(nd.array([1.0, 3.0]))
    p.reset_ctx([mx.cpu(1), mx.cpu(2)])
    assert p.list_ctx() == [mx.cpu(1), mx.cpu(2)]
    assert_array_equal(p.data(mx.cpu(2)).asnumpy(), [1.0, 3.0])
    p.cast('float64')
    assert p.dtype == np.float64 and p.data(mx.cpu(1)).dtype == np.float64
    assert p.grad(mx.cpu(1)).dtype == np.float64
    q = Parameter('q', shape=(2, 0), allow_deferred_init=True)
    q.initialize()
    q.reset_ctx(mx.cpu(1))
    assert q.list_ctx() == [mx.cpu(1)]
    with pytest.raises(RuntimeError, match="reset the context of Parameter 'r'"):
        Parameter('r', shape=(1,)).reset_ctx(mx.cpu(0))


# ----------------------------------------------------------------------------- ParameterDict

def test_parameterdict_get_creates_merges_and_checks():
    pd = ParameterDict('net_')
    w = pd.get('weight', shape=(4, 0), allow_deferred_init=True)
    assert w.name == 'net_weight' and pd.get('weight') is w
    assert pd.get('weight', shape=(0, 3)) is w and w.shape == (4, 3)
    with pytest.raises(MXNetError, match=r"net_weight.*\(5, 3\).*incompatible"):
        pd.get('weight', shape=(5, 3))
    with pytest.raises(MXNetError, match=r"Cannot retrieve Parameter 'net_weight': the "
                                         r"requested lr_mult=2.0 does not match"):
        pd.get('weight', lr_mult=2.0)
    assert pd.get('weight', dtype='float32') is w
    assert list(pd.keys()) == ['net_weight'] and 'net_weight' in pd and len(pd) == 1
    assert repr(pd) == ("net_ (\n  Parameter net_weight (shape=(4, 3), "
                        "dtype=<class 'numpy.float32'>)\n)")


def test_parameterdict_shared_and_update_conflict():
    base = ParameterDict('a_')
    w = base.get('weight', shape=(2,))
    view = ParameterDict('a_', shared=base)
    assert view.get('weight') is w
    other = ParameterDict('a_')
    other.get('weight', shape=(2,))
    with pytest.raises(MXNetError, match="two different Parameters are named 'a_weight'"):
        base.update(other)


def test_parameterdict_initialize_setattr_zero_grad():
    pd = ParameterDict('p_')
    pd.get('weight', shape=(2, 2))
    pd.get('bias', shape=(2,), init='zeros')
    pd.initialize(mx.init.One(), ctx=[mx.cpu(0), mx.cpu(1)])
    assert_array_equal(pd['p_weight'].data(mx.cpu(1)).asnumpy(), 1)
    assert_array_equal(pd['p_bias'].data(mx.cpu(0)).asnumpy(), 0)
    pd.setattr('lr_mult', 0.1)
    assert all(p.lr_mult == 0.1 for p in pd.values())
    pd['p_weight'].data(mx.cpu(0)).grad[:] = 5
    pd.zero_grad()
    assert_array_equal(pd['p_weight'].grad(mx.cpu(0)).asnumpy(), 0)
    pd.setattr('grad_req', 'null')
    assert all(p.grad_req == 'null' for p in pd.values())


def test_save_load_roundtrip_and_prefixes(tmp_path):
    mx.random.seed(0)
    net = nn.Dense(3, in_units=2, prefix='model_')
    net.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    path = str(tmp_path / 'params.npz')
    net.collect_params().save(path, strip_prefix='model_')
    assert sorted(nd.load(path)) == ['bias', 'weight']
    assert os.listdir(tmp_path) == ['params.npz']                 # no temporary file left
    other = nn.Dense(3, in_units=2, prefix='copy_')
    other.collect_params().load(path, ctx=mx.cpu(1), restore_prefix='copy_')
    assert_array_equal(other.weight.data(mx.cpu(1)).asnumpy(), net.weight.data().asnumpy())
    deferred = nn.Dense(3, prefix='copy_')
    deferred.initialize(ctx=mx.cpu(2))
    deferred.collect_params().load(path, restore_prefix='copy_')
    assert deferred.weight.shape == (3, 2) and deferred.weight.list_ctx() == [mx.cpu(2)]
    with pytest.raises(MXNetError, match="strip_prefix='x_'.*'model_weight'"):
        net.collect_params().save(path, strip_prefix='x_')


def test_load_missing_and_extra_names(tmp_path):
    path = str(tmp_path / 'p.npz')
    nd.save(path, {'w_weight': nd.ones((2, 2)), 'extra': nd.zeros(1)})
    pd = ParameterDict('w_')
    pd.get('weight', shape=(2, 2))
    pd.get('bias', shape=(2,))
    with pytest.raises(MXNetError, match=r"\['w_bias'\] are missing in .*allow_missing=True"):
        pd.load(path)
    with pytest.raises(MXNetError, match=r"contains \['extra'\].*ignore_extra=True"):
        pd.load(path, allow_missing=True)
    pd.load(path, allow_missing=True, ignore_extra=True)
    assert_array_equal(pd['w_weight'].data().asnumpy(), 1)
    with pytest.raises(RuntimeError, match="'w_bias' has not been initialized"):
        pd['w_bias'].data()


def test_load_shape_mismatch_and_no_pickle(tmp_path):
    path = str(tmp_path / 'p.npz')
    nd.save(path, {'w': nd.ones((3,))})
    pd = ParameterDict()
    pd.get('w', shape=(2,))
    with pytest.raises(MXNetError, match=r"Parameter 'w': the saved value has shape \(3,\)"):
        pd.load(path)
    np.savez(path, w=np.array([object()], dtype=object))
    with pytest.raises(MXNetError, match='allow_pickle'):
        pd.load(path)


# ----------------------------------------------------------------------------- initializers

def _drawn(init, shape, name='x_weight', seed=0):
    mx.random.seed(seed)
    arr = nd.zeros(shape)
    init(name, arr)
    return arr.asnumpy()


def test_constant_initializers_and_create():
    assert_array_equal(_drawn(mx.init.Zero(), (2, 2)), 0)
    assert_array_equal(_drawn(mx.init.One(), (2, 2)), 1)
    assert_array_equal(_drawn(mx.init.Constant(0.5), (2, 2)), 0.5)
    for name, cls in [('zeros', mx.init.Zero), ('ones', mx.init.One), ('xavier', mx.init.Xavier),
                      ('normal', mx.init.Normal), ('uniform', mx.init.Uniform),
                      ('msraprelu', mx.init.MSRAPrelu)]:
        assert type(mx.init.create(name)) is cls
    x = mx.init.Xavier()
    assert mx.init.create(x) is x
    with pytest.raises(MXNetError, match="unknown initializer 'glorot'.*xavier"):
        mx.init.create('glorot')
    assert mx.initializer is mx.init


def test_create_reads_mxnets_json_and_keyword_arguments():
    # MXNet 1.9.1: mx.init.create(name, *args, **kwargs), the JSON of dumps(), a
    # '{"initializer": ...}' object; an instance takes no further arguments
    xavier = mx.init.create('Xavier', magnitude=2)
    assert xavier.magnitude == 2 and mx.init.create(xavier.dumps()) == xavier
    assert mx.init.create('["normal", {"sigma": 0.5}]').sigma == 0.5
    assert mx.init.create('uniform', 0.3).scale == 0.3
    assert mx.init.create(initializer='one') == mx.init.One()
    assert mx.init.create('{"initializer": "uniform", "scale": 0.2}').scale == 0.2
    assert_array_equal(_drawn(mx.init.create(mx.init.Constant(3).dumps()), (2,)), 3)
    for name in ('zero', 'one', 'uniform', 'normal', 'xavier', 'msraprelu', 'bilinear',
                 'lstmbias'):
        init = mx.init.create(name)
        assert mx.init.create(init.dumps()) == init
    with pytest.raises(AssertionError, match='additional arguments'):
        mx.init.create(mx.init.One(), 1)
    with pytest.raises(AssertionError, match='additional arguments'):
        mx.init.create('["one", {}]', scale=1)
    p = gluon.Parameter('w', shape=(2,), init='["constant", {"value": 4}]')
    p.initialize()
    assert_array_equal(p.data().asnumpy(), [4, 4])


def test_name_dispatch():
    init = mx.init.Normal(1.0)
    assert_array_equal(_drawn(init, (3,), 'fc_bias'), 0)
    assert_array_equal(_drawn(init, (3,), 'bn_beta'), 0)
    assert_array_equal(_drawn(init, (3,), 'bn_running_mean'), 0)
    assert_array_equal(_drawn(init, (3,), 'bn_gamma'), 1)
    assert_array_equal(_drawn(init, (3,), 'bn_running_var'), 1)
    assert _drawn(init, (3, 3), 'fc_weight').std() > 0.3
    with pytest.raises(MXNetError, match=r"'fc_scale'.*Give the parameter its own initializer"):
        init('fc_scale', nd.zeros((2,)))


def test_uniform_normal_scales():
    u = _drawn(mx.init.Uniform(0.2), (200, 100))
    assert np.abs(u).max() <= 0.2 and abs(u.std() - 0.2 / np.sqrt(3)) < 0.005
    n = _drawn(mx.init.Normal(0.3), (200, 100))
    assert abs(n.std() - 0.3) < 0.01 and abs(n.mean()) < 0.01
    assert_array_equal(u, _drawn(mx.init.Uniform(0.2), (200, 100)))   # seeded


@pytest.mark.parametrize('shape, factor_type, factor', [
    ((64, 32), 'avg', 48.0), ((64, 32), 'in', 32.0), ((64, 32), 'out', 64.0),
    ((16, 8, 3, 3), 'avg', (72 + 144) / 2.0)])
def test_xavier_scale(shape, factor_type, factor):
    scale = np.sqrt(3 / factor)
    u = _drawn(mx.init.Xavier(factor_type=factor_type), shape)
    assert np.abs(u).max() <= scale and np.abs(u).max() > 0.95 * scale
    g = _drawn(mx.init.Xavier('gaussian', factor_type, magnitude=2), shape)
    assert abs(g.std() - np.sqrt(2 / factor)) < 0.08 * np.sqrt(2 / factor)


def test_msraprelu_and_xavier_errors():
    m = _drawn(mx.init.MSRAPrelu(slope=0.0), (100, 200))
    assert abs(m.std() - np.sqrt(2 / 150)) < 0.003
    with pytest.raises(MXNetError, match="Xavier initializer cannot be applied to 'v_weight'"):
        mx.init.Xavier()('v_weight', nd.zeros((5,)))
    with pytest.raises(MXNetError, match="rnd_type must be one of 'uniform', 'gaussian'"):
        mx.init.Xavier(rnd_type='cauchy')


def test_initializer_reprs():
    assert repr(mx.init.Uniform()) == 'Uniform(scale=0.07)'
    assert repr(mx.init.Normal()) == 'Normal(sigma=0.01)'
    assert repr(mx.init.Xavier()) == "Xavier(rnd_type='uniform', factor_type='avg', magnitude=3)"
    assert repr(mx.init.MSRAPrelu()) == "MSRAPrelu(factor_type='avg', slope=0.25)"
    assert repr(mx.init.Zero()) == 'Zero()'
    assert mx.init.Xavier().dumps() == \
        '["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]'
