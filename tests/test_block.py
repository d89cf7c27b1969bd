"""Chapter 3: Block and HybridBlock: naming, registration, collect_params, printing, errors."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import Block, HybridBlock, nn
from minimx.gluon import block as block_module

pytestmark = pytest.mark.ch04


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    """Each test starts with MXNet's global name counters at 0."""
    monkeypatch.setattr(block_module, '_name_counter', {})


class MLP(Block):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.hidden = nn.Dense(4, activation='relu')
            self.out = nn.Dense(2)

    def forward(self, x):
        return self.out(self.hidden(x))


# ----------------------------------------------------------------------------- naming

def test_top_level_counters_per_hint():
    assert [nn.Dense(2).name for _ in range(3)] == ['dense0', 'dense1', 'dense2']
    assert nn.Conv2D(2, 3).prefix == 'conv0_'
    assert nn.Sequential().name == 'sequential0'
    assert nn.MaxPool2D().name == 'pool0' and nn.AvgPool2D().name == 'pool1'
    assert nn.Dense(2).name == 'dense3'          # other hints did not disturb 'dense'
    assert MLP().name == 'mlp0'
    assert nn.Activation('relu').name == 'relu0'


def test_nested_counters_restart_per_parent():
    nn.Sequential()                              # sequential0
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(3), nn.Dense(4))
    other = nn.Sequential()
    with other.name_scope():
        other.add(nn.Dense(5))
    assert list(net.collect_params().keys()) == [
        'sequential1_dense0_weight', 'sequential1_dense0_bias',
        'sequential1_dense1_weight', 'sequential1_dense1_bias']
    assert other[0].name == 'sequential2_dense0'
    assert nn.Dense(1).name == 'dense0'          # children did not use the global counter


def test_explicit_prefix_top_level_and_nested():
    assert nn.Dense(3, prefix='fc_').weight.name == 'fc_weight'
    net = nn.Sequential(prefix='net_')
    with net.name_scope():
        net.add(nn.Dense(3, prefix='fc_'), nn.Dense(3))
    assert [p for p in net.collect_params()] == ['net_fc_weight', 'net_fc_bias',
                                                 'net_dense0_weight', 'net_dense0_bias']
    assert nn.Dense(3, activation='tanh').act.name == 'dense0_tanh'


def test_blocks_created_outside_scope_keep_global_names():
    net = nn.Sequential()
    net.add(nn.Dense(3), nn.Dense(3))
    assert [b.name for b in net._children.values()] == ['dense0', 'dense1']


def test_params_sharing():
    a = nn.Dense(3, in_units=2)
    b = nn.Dense(3, in_units=2, params=a.collect_params())
    assert b.weight is a.weight and b.bias is a.bias
    a.initialize()
    x = nd.array([[1.0, -2.0]])
    assert_allclose(a(x).asnumpy(), b(x).asnumpy())
    c = nn.Dense(3, in_units=2, params=a.params)
    assert c.weight is a.weight


# ----------------------------------------------------------------------------- registration

def test_setattr_registers_children_and_parameters():
    class Net(Block):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.body = nn.Dense(2)
                self.scale = self.params.get('scale', shape=(1,))

    net = Net()
    assert list(net._children) == ['body']
    assert list(net._reg_params) == ['scale']
    assert net.scale.name == 'net0_scale'
    with pytest.raises(TypeError, match="changing the attribute 'body' from Dense to int"):
        net.body = 3


def test_register_child_and_assignment_before_init():
    net = Block()
    net.register_child(nn.Dense(2))
    net.register_child(nn.Dense(2), 'named')
    assert list(net._children) == ['0', 'named']

    class Early(Block):
        def __init__(self):
            self.layer = nn.Dense(2)
            super().__init__()

    with pytest.raises(MXNetError, match=r'Early: call super\(\).__init__'):
        Early()


def test_forward_not_defined():
    with pytest.raises(NotImplementedError, match='Block .*must define forward'):
        Block()(nd.ones((1,)))


# ----------------------------------------------------------------------------- collect_params

def _net():
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(3, in_units=2), nn.Conv2D(2, 1, in_channels=1),
                nn.BatchNorm(in_channels=2))
    return net


def test_collect_params_select_regex():
    net = _net()
    assert list(net.collect_params('.*weight')) == ['sequential0_dense0_weight',
                                                    'sequential0_conv0_weight']
    assert list(net.collect_params('.*conv0.*|.*gamma')) == [
        'sequential0_conv0_weight', 'sequential0_conv0_bias', 'sequential0_batchnorm0_gamma']
    assert list(net.collect_params('dense.*')) == []          # re.match: from the start
    selected = net.collect_params('.*running.*')
    assert isinstance(selected, gluon.ParameterDict) and len(selected) == 2
    assert selected.prefix == 'sequential0_'


def test_collect_params_with_prefix_structural_keys():
    class Outer(Block):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.base = _net()
                self.head = nn.Dense(1)

    keys = list(Outer()._collect_params_with_prefix())
    assert keys[:3] == ['base.0.weight', 'base.0.bias', 'base.1.weight']
    assert 'base.2.running_var' in keys and keys[-2:] == ['head.weight', 'head.bias']


def test_params_is_own_only():
    net = _net()
    assert len(net.params) == 0 and len(net.collect_params()) == 8


def test_initialize_apply_cast():
    mx.random.seed(0)
    net = _net()
    net.initialize(mx.init.Xavier())
    assert net[0].weight.data().shape == (3, 2)
    assert_allclose(net[0].bias.data().asnumpy(), 0)
    visited = []
    assert net.apply(lambda b: visited.append(b.name)) is net
    assert visited == ['sequential0_dense0', 'sequential0_conv0', 'sequential0_batchnorm0',
                       'sequential0']
    net.cast('float64')
    assert all(p.data().dtype == np.float64 for p in net.collect_params().values())
    assert net[0](nd.ones((1, 2), dtype='float64')).dtype == np.float64


def test_hybridize_is_recorded_recursively():
    net = _net()
    net.hybridize(static_alloc=True)
    assert net[0]._active and net[0]._flags == {'static_alloc': True}


# ----------------------------------------------------------------------------- forward

def test_hybrid_forward_gets_params_on_input_context():
    class Scale(HybridBlock):
        def __init__(self):
            super().__init__()
            self.s = self.params.get('s', shape=(1,), init=mx.init.Constant(3.0))

        def hybrid_forward(self, F, x, s):
            assert s.context == x.context
            assert mx.current_context() == x.context
            return x * s

    blk = Scale()
    blk.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    out = blk(nd.array([1.0, 2.0], ctx=mx.cpu(1)))
    assert out.context == mx.cpu(1)
    assert_allclose(out.asnumpy(), [3.0, 6.0])


def test_gradient_through_block_reaches_parameters():
    mx.random.seed(1)
    d = nn.Dense(3, in_units=4)
    d.initialize()
    x = nd.random.uniform(shape=(5, 4))
    with autograd.record():
        y = d(x).sum()
    y.backward()
    assert_allclose(d.weight.grad().asnumpy(), np.tile(x.asnumpy().sum(0), (3, 1)), rtol=1e-5)
    assert_allclose(d.bias.grad().asnumpy(), [5, 5, 5])
    assert d.weight.data()._ag.fresh


def test_default_infer_shape_names_the_block():
    class Odd(HybridBlock):
        def __init__(self):
            super().__init__()
            self.w = self.params.get('w', shape=(0,), allow_deferred_init=True)

        def hybrid_forward(self, F, x, w):
            return F.dot(x, w)   # x * w would infer w's shape from x, as in MXNet

    blk = Odd()
    blk.initialize()
    with pytest.raises(MXNetError, match=r"^odd0: cannot infer the shapes of the "
                                         r"parameters \['odd0_w'\].*infer_shape"):
        blk(nd.ones((2,)))


def test_errors_carry_the_block_path():
    mx.random.seed(0)
    net = MLP()
    net.initialize()
    net(nd.ones((2, 3)))
    with pytest.raises(MXNetError) as info:
        net(nd.ones((2, 5)))
    msg = str(info.value)
    assert msg.startswith('mlp0 > mlp0_dense0: Dense(3 -> 4, Activation(relu)) got an input '
                          'of shape (2, 5) with 5 features')
    assert 'weight has shape (4, 3)' in msg


def test_deferred_error_keeps_its_type_through_blocks():
    class Peek(Block):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.d = nn.Dense(2)

        def forward(self, x):
            return self.d.weight.data()

    p = Peek()
    p.initialize()
    with pytest.raises(gluon.DeferredInitializationError, match='peek0_dense0_weight'):
        p(nd.ones((1, 3)))


def test_forward_hooks():
    d = nn.Dense(2, in_units=2)
    d.initialize()
    seen = []
    h1 = d.register_forward_pre_hook(lambda b, args: seen.append(('pre', args[0].shape)))
    h2 = d.register_forward_hook(lambda b, args, out: seen.append(('post', out.shape)))
    d(nd.ones((3, 2)))
    h1.detach()
    h2.detach()
    d(nd.ones((3, 2)))
    assert seen == [('pre', (3, 2)), ('post', (3, 2))]


# ----------------------------------------------------------------------------- printing

def test_repr_of_nested_blocks():
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(3, activation='relu', in_units=5), nn.Dense(4))
    assert repr(net) == ('Sequential(\n  (0): Dense(5 -> 3, Activation(relu))\n'
                         '  (1): Dense(None -> 4, linear)\n)')
    m = MLP()
    assert repr(m) == ('MLP(\n  (hidden): Dense(None -> 4, Activation(relu))\n'
                       '  (out): Dense(None -> 2, linear)\n)')
    outer = nn.Sequential()
    outer.add(net)
    assert repr(outer).splitlines()[1:3] == ['  (0): Sequential(',
                                             '    (0): Dense(5 -> 3, Activation(relu))']


def test_summary(capsys):
    mx.random.seed(0)
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(4, activation='relu'), nn.Dense(4))
        shared = nn.Dense(4, in_units=4, params=net[1].collect_params())
        net.add(shared)
    net.initialize()
    net.summary(nd.ones((2, 5)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ['Layer', '(type)', 'Output', 'Shape', 'Param', '#']
    rows = [line.split(None, 1) for line in lines[3:8]]
    assert [r[0] for r in rows] == ['Input', 'Activation-1', 'Dense-2', 'Dense-3', 'Dense-4']
    assert lines[5].endswith(' 24') and lines[6].endswith(' 20') and lines[7].endswith(' 20')
    assert '   Total params: 64' in lines
    assert '   Trainable params: 64' in lines
    assert 'Shared params in forward computation graph: 20' in lines
    assert 'Unique parameters in model: 44' in lines


def test_summary_counts_non_trainable(capsys):
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(in_channels=3))
    net.initialize()
    net.summary(nd.ones((2, 3, 2, 2)))
    out = capsys.readouterr().out
    assert '   Total params: 12' in out and '   Non-trainable params: 6' in out
    assert re.search(r'BatchNorm-1\s+\(2, 3, 2, 2\)\s+12', out)


def test_sequential_indexing_slicing_len():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(3), nn.Dense(4), nn.Dense(5))
    assert len(net) == 3 and net[1].name == 'hybridsequential0_dense1'
    part = net[1:]
    assert isinstance(part, nn.HybridSequential) and len(part) == 2
    assert part[0] is net[1]
    net.initialize()
    assert net(nd.ones((2, 2))).shape == (2, 5)


# --- the network on one device, the data on another (issue 11) -------------------------
# MXNet 1.9.1, nn.Dense(3) initialized on cpu(1) and called on cpu(0) data, raises a
# plain RuntimeError: "Parameter 'dense0_weight' was not initialized on context cpu(0).
# It was only initialized on [cpu(1)]." (the same check for GPUs: the parameter has no
# copy on the input's context). minimx keeps the class and adds the block and the fixes.

def _context_error(net, x):
    with pytest.raises(RuntimeError) as info:
        net(x)
    assert type(info.value) is RuntimeError          # MXNet's class, not a subclass
    return str(info.value)


@pytest.mark.parametrize('make, shape', [
    (lambda: nn.Dense(3), (2, 4)),
    (lambda: nn.Conv2D(2, 3), (1, 1, 5, 5)),
    (lambda: nn.BatchNorm(), (2, 3)),
])
def test_net_on_one_context_data_on_another_names_block_contexts_and_fix(make, shape):
    net = make()
    net.initialize(ctx=mx.cpu(1))
    net(nd.ones(shape, ctx=mx.cpu(1)))                 # infers its shapes on cpu(1)
    message = _context_error(net, nd.ones(shape, ctx=mx.cpu(0)))
    assert message.startswith(net.name + ': ')
    assert f"'{net.name}_" in message                  # the parameter
    for part in ('cpu(0)', 'cpu(1)', 'x.as_in_context(cpu(1))',
                 'net.collect_params().reset_ctx(cpu(0))'):
        assert part in message


def test_the_context_error_reads_as_a_path_through_the_network():
    net = nn.HybridSequential()
    net.add(nn.Dense(4, in_units=2), nn.Dense(3, in_units=4))
    net.initialize(ctx=mx.cpu(1))
    message = _context_error(net, nd.ones((1, 2)))     # on cpu(0), the default
    assert message.startswith('hybridsequential0 > dense0: ')
    assert "Parameter 'dense0_weight' was not initialized on context cpu(0)" in message
    # the fix the message gives works
    assert net(nd.ones((1, 2)).as_in_context(mx.cpu(1))).context == mx.cpu(1)
    net.collect_params().reset_ctx(mx.cpu(0))
    assert net(nd.ones((1, 2))).context == mx.cpu(0)


def test_the_context_error_of_a_hybridized_net_names_it_too():
    net = nn.HybridSequential()
    net.add(nn.Dense(3, in_units=2))
    net.initialize(ctx=mx.cpu(1))
    net.hybridize()
    message = _context_error(net, nd.ones((1, 2)))
    assert message.startswith('hybridsequential0')
    assert "'dense0_weight'" in message and 'as_in_context(cpu(1))' in message


def test_a_block_reading_its_weight_meets_the_operators_context_error():
    class Scale(Block):
        def __init__(self):
            super().__init__()
            self.w = self.params.get('w', shape=(2,))

        def forward(self, x):
            return x * self.w.data()                   # the copy on cpu(1)

    block = Scale()
    block.initialize(ctx=mx.cpu(1))
    with pytest.raises(MXNetError, match=r'^scale0: .*cpu\(0\).*cpu\(1\).*as_in_context'):
        block(nd.ones(2))


def test_other_runtime_errors_pass_through_blocks_untouched():
    class Fails(Block):
        def forward(self, x):
            raise RuntimeError('mine')

    with pytest.raises(RuntimeError) as info:
        Fails()(nd.ones(1))
    assert str(info.value) == 'mine'


def test_a_parameter_asked_for_another_context_than_the_inputs_keeps_its_message():
    class Other(Block):
        def __init__(self):
            super().__init__()
            self.w = self.params.get('w', shape=(2,))

        def forward(self, x):
            return self.w.data(mx.cpu(2))

    block = Other()
    block.initialize(ctx=mx.cpu(1))
    with pytest.raises(RuntimeError) as info:
        block(nd.ones(2))
    assert str(info.value) == ("other0: Parameter 'other0_w' was not initialized on "
                               "context cpu(2); it is on [cpu(1)]. Initialize it there "
                               "(initialize(ctx=...)), move it with reset_ctx(cpu(2)), "
                               "or send the input to one of those contexts.")


@pytest.mark.parametrize('args, named', [((np.ones((1, 3)),), 'got a numpy.ndarray.'),
                                         ((3,), 'got an int.'),
                                         (([1.0], None), 'got (list, NoneType).')])
def test_an_input_that_is_not_an_ndarray_is_named_by_its_full_type(args, named):
    net = nn.Dense(2, in_units=3)
    net.initialize()
    with pytest.raises(ValueError) as info:
        net(*args)
    assert isinstance(info.value, MXNetError)
    assert named in str(info.value)
