"""Chapter 11: the compiled executor and its graph passes.

Every pass must keep results (outputs, gradients, BatchNorm's running statistics)
equal to the imperative path, and must really do its job (steps removed, constants
folded, chains fused, buffers freed and reused)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn
from minimx.symbol import passes

pytestmark = pytest.mark.ch11
sym = mx.sym
ALL = passes.PASSES
EACH = [(), ('dce',), ('fold',), ('fuse',), ('memory',), ALL]


# ------------------------------------------------------------------ the networks

def mlp():
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation='relu', in_units=12), nn.Dense(5, in_units=16))
    return net, (6, 12)


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 5, padding=2, activation='relu', in_channels=1),
            nn.MaxPool2D(2, 2), nn.Conv2D(6, 3, activation='tanh', in_channels=4),
            nn.AvgPool2D(2, 2), nn.Flatten(),
            nn.Dense(10, activation='sigmoid', in_units=6 * 2 * 2), nn.Dense(5, in_units=10))
    return net, (3, 1, 14, 14)


def batchnorm():
    net = nn.HybridSequential()
    net.add(nn.Dense(8, in_units=6), nn.BatchNorm(in_channels=8), nn.Activation('relu'),
            nn.Dense(5, in_units=8))
    return net, (7, 6)


def dropout():
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation='relu', in_units=6), nn.Dropout(0.4),
            nn.Dense(5, in_units=16))
    return net, (7, 6)


class TwoHeads(gluon.HybridBlock):
    """A block with two outputs that share a trunk."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.trunk = nn.Dense(8, activation='tanh', in_units=6)
            self.a = nn.Dense(3, in_units=8)
            self.b = nn.Dense(2, in_units=8)

    def hybrid_forward(self, F, x):
        h = self.trunk(x)
        return self.a(h), F.exp(self.b(h) * 0.5) + 1


def two_heads():
    return TwoHeads(), (5, 6)


NETS = {'mlp': mlp, 'lenet': lenet, 'batchnorm': batchnorm, 'dropout': dropout,
        'two_heads': two_heads}


def pair(make):
    """The same network twice, with equal parameters; the second hybridized."""
    mx.random.seed(3)
    a, shape = make()
    a.initialize(mx.init.Xavier())
    b, _ = make()
    b.initialize()
    for p, q in zip(a.collect_params().values(), b.collect_params().values()):
        q.set_data(p.data().copy())
    return a, b, shape


def only(net, which):
    """Make `net`'s compiled graph run the passes `which`, from its next call on."""
    for graph in net.__dict__.get('_graphs', {}).values():
        graph.program.passes = which
        graph.program.plans.clear()


def recorded(net, x, times=2, backward=False, total=False):
    """`net(x)` (summed, with `total`) under autograd.record(), `times` times: the first
    call of a kind runs the checked program, the later ones the plan; with `backward`,
    each call is followed by backward(). Returns the last result."""
    for _ in range(times):
        with autograd.record():
            y = net(x).sum() if total else net(x)
        if backward:
            y.backward()
    return y


def step(net, x, seed, heads_grad=None):
    """One recorded forward and backward: outputs, gradients, all parameter values."""
    mx.random.seed(seed)
    with autograd.record():
        out = net(x)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        loss = sum((o * o).sum() for o in outs)
    loss.backward()
    params = net.collect_params().values()
    return ([o.asnumpy() for o in outs],
            [p.grad().asnumpy().copy() for p in params if p.grad_req != 'null'],
            [p.data().asnumpy().copy() for p in params])


def assert_same(got, want):
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('which', EACH, ids=lambda w: '+'.join(w) or 'none')
@pytest.mark.parametrize('name', sorted(NETS))
def test_each_pass_keeps_outputs_gradients_and_state(name, which):
    plain, hybrid, shape = pair(NETS[name])
    hybrid.hybridize()
    x = nd.array(np.random.RandomState(0).uniform(-1, 1, shape))
    for i in range(4):                  # the first call is checked, then the plan runs
        if i == 1:
            only(hybrid, which)
        assert_same(step(hybrid, x, i), step(plain, x, i))
        for mode in (autograd.predict_mode, autograd.train_mode):
            with mode():
                got, want = [(mx.random.seed(i), net(x))[1] for net in (hybrid, plain)]
            got = got if isinstance(got, (list, tuple)) else [got]
            want = want if isinstance(want, (list, tuple)) else [want]
            for g, w in zip(got, want):
                assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-5, atol=1e-6)
    program = hybrid._last_graph.program
    assert program.why_not is None and program.plans     # the plans really ran


def test_one_tape_node_for_the_whole_graph():
    _, net, shape = pair(lenet)
    net.hybridize()
    x = nd.ones(shape)
    y = recorded(net, x)
    assert y._ag.op.name == '_CachedOp'
    assert all(type(p).__name__ == 'Leaf' or p is None for p in y._ag.parents)
    y.backward()
    with pytest.raises(MXNetError, match='already freed'):
        y.backward()


def test_update_before_backward_is_refused_as_imperatively():
    for hybrid in (False, True):
        _, net, shape = pair(mlp)
        if hybrid:
            net.hybridize()
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
        x = nd.ones(shape)
        for _ in range(2):
            with autograd.record():
                y = net(x).sum()
            y.backward()                     # fresh gradients for the update below
        with autograd.record():
            y = net(x).sum()
        trainer.step(1)
        with pytest.raises(MXNetError, match='changed in place'):
            y.backward()


def test_changed_shapes_and_rehybridizing():
    plain, hybrid, _ = pair(mlp)
    hybrid.hybridize()
    for batch in (4, 9, 4, 1, 9):
        x = nd.array(np.random.RandomState(batch).uniform(-1, 1, (batch, 12)))
        assert_same(step(hybrid, x, 0), step(plain, x, 0))
    assert len(hybrid._last_graph.program.plans) == 3 * 1    # (train, grad) per shape
    hybrid.hybridize(static_alloc=True, static_shape=True)
    for batch in (4, 9, 2):
        x = nd.array(np.random.RandomState(batch).uniform(-1, 1, (batch, 12)))
        assert_same(step(hybrid, x, 0), step(plain, x, 0))
        assert_allclose(hybrid(x).asnumpy(), plain(x).asnumpy(), rtol=1e-5)
    assert len(hybrid._last_graph.program.plans) == 2       # not one per shape
    hybrid.hybridize(False)
    assert_allclose(hybrid(x).asnumpy(), plain(x).asnumpy(), rtol=1e-6)


def test_static_shape_needs_static_alloc_as_in_mxnet():
    net, _ = mlp()
    with pytest.raises(MXNetError, match='static_alloc=True'):
        net.hybridize(static_shape=True)


# ----------------------------------------------------------- each pass does its job

def plan_of(symbol, is_train=False, which=ALL, grad_req='null', **shapes):
    mx.random.seed(0)
    exe = symbol.simple_bind(mx.cpu(), grad_req=grad_req, **shapes)
    exe._program.passes = which
    for name, arr in sorted(exe.arg_dict.items()):
        arr[:] = nd.random.uniform(-1, 1, shape=arr.shape)
    outs = []
    for _ in range(2):
        mx.random.seed(5)
        outs.append([o.asnumpy() for o in exe.forward(is_train=is_train)])
    assert_same([outs[1]], [outs[0]])
    return list(exe._program.plans.values())[-1], exe


def small_net():
    with mx.name.NameManager():
        data = sym.var('data')
        h = sym.Activation(sym.FullyConnected(data, num_hidden=8), act_type='relu')
        return sym.FullyConnected(sym.Dropout(h, p=0.5), num_hidden=3)


def test_dead_code_elimination_removes_prediction_dropout_only():
    net = small_net()
    before, _ = plan_of(net, which=(), data=(4, 5))
    after, _ = plan_of(net, which=('dce',), data=(4, 5))
    train, _ = plan_of(net, is_train=True, which=('dce',), data=(4, 5))
    assert [s.op.name for s in before.steps] == \
        ['FullyConnected', 'Activation_relu', '_copy', 'FullyConnected']
    assert [s.op.name for s in after.steps] == \
        ['FullyConnected', 'Activation_relu', 'FullyConnected']
    assert [s.op.name for s in train.steps] == \
        ['FullyConnected', 'Activation_relu', 'Dropout', 'FullyConnected']


def test_dead_code_keeps_side_effects_and_drops_unread_steps():
    x = passes.Step('op', passes._IDENTITY, {}, [(0, None)], 1, 'copy')
    unread = passes.Step('op', nd.exp, {}, [(0, None)], 2, 'exp')
    stats = passes.Step('op', passes._batchnorm, {'batch_stats': True}, [(0, None)], 3,
                        'bn')
    heads = [(1, None)]
    kept = passes.eliminate_dead_code([x, unread, stats], heads)
    assert [s.name for s in kept] == ['copy', 'bn']      # a head's copy stays


def test_constant_folding_computes_the_table_once():
    with mx.name.NameManager():
        x = sym.var('x')
        table = sym.sin(sym.arange(0, 6).reshape((1, 6)) * 0.5)
        out = sym.broadcast_add(x, table)
    plan, exe = plan_of(out, which=('fold',), x=(2, 6))
    assert [s.kind for s in plan.steps] == ['const'] * 4 + ['op']
    assert len(plan.constants) == 4
    want = np.ones((2, 6)) * 0 + np.sin(np.arange(6) * 0.5)
    exe.forward(x=nd.zeros((2, 6)))
    assert_allclose(exe.outputs[0].asnumpy(), want, rtol=1e-6)
    first = plan.constants[plan.steps[-2].out]
    exe.forward(x=nd.ones((2, 6)))
    assert plan.constants[plan.steps[-2].out] is first   # computed once, kept
    assert_allclose(exe.outputs[0].asnumpy(), want + 1, rtol=1e-6)


def test_random_sources_are_never_folded():
    with mx.name.NameManager():
        x = sym.var('x')
        out = x + sym.random.uniform(shape=(3,))
    plan, exe = plan_of(out, which=ALL, x=(3,))
    assert [s.kind for s in plan.steps][0] == 'source'
    a = exe.forward(x=nd.zeros((3,)))[0].asnumpy()
    b = exe.forward(x=nd.zeros((3,)))[0].asnumpy()
    assert not np.allclose(a, b)


def test_each_rewrite_happens_only_when_its_pass_runs():
    with mx.name.NameManager():
        x = sym.var('x')
        table = sym.arange(0, 6).reshape((1, 6)) * 0.5
        out = sym.FullyConnected(sym.broadcast_add(x, table), num_hidden=4)
        out = sym.Activation(out, act_type='relu')
    for which in [(), ('dce', 'fold', 'fuse')]:       # no 'memory': nothing in place
        for is_train in (False, True):
            plan, exe = plan_of(out, is_train=is_train, which=which, x=(2, 6))
            assert not any(s.inplace for s in plan.steps)
    plan, exe = plan_of(out, which=(), x=(2, 6))      # no 'fold': nothing constant
    assert [s.kind for s in plan.steps] == ['create', 'op', 'op', 'op', 'op', 'op']
    assert plan.constants == {}
    x0 = np.arange(12, dtype=np.float32).reshape(2, 6)
    results = []
    for which in [(), ('fold',), ALL]:
        plan, exe = plan_of(out, which=which, x=(2, 6))
        results.append(exe.forward(x=nd.array(x0))[0].asnumpy())
    assert [s.kind for s in plan.steps][:3] == ['const'] * 3
    assert_same([results[1], results[2]], [results[0], results[0]])


def test_fusion_makes_one_step_of_a_chain():
    with mx.name.NameManager():
        x = sym.var('x')
        chain = sym.exp(sym.relu(x * 2 + 1) - 3) / 4
    plan, exe = plan_of(chain, which=('fuse',), x=(3, 4))
    assert len(plan.steps) == 1 and plan.steps[0].kind == 'fused'
    assert [m[0].name for m in plan.steps[0].members] == \
        ['_mul_scalar', '_add_scalar', 'relu', '_sub_scalar', 'exp', '_div_scalar']
    v = exe.arg_dict['x'].asnumpy()
    assert_allclose(exe.outputs[0].asnumpy(), np.exp(np.maximum(v * 2 + 1, 0) - 3) / 4,
                    rtol=1e-6)


def test_fusion_stops_at_values_read_twice_and_at_heads():
    with mx.name.NameManager():
        x = sym.var('x')
        a = x * 2
        b = sym.exp(a)
        out = sym.Group([sym.broadcast_add(b, a), b * 3])
    plan, _ = plan_of(out, which=('fuse',), x=(3,))
    assert [len(s.members) for s in plan.steps] == [1, 1, 1, 1]


def test_no_fusion_when_a_gradient_is_needed():
    with mx.name.NameManager():
        x = sym.var('x')
        chain = sym.exp(sym.relu(x * 2 + 1))
    plan, exe = plan_of(chain, is_train=True, grad_req='write', x=(3,))
    assert [s.kind for s in plan.steps] == ['op'] * 4
    exe.backward(nd.ones((3,)))
    v = exe.arg_dict['x'].asnumpy()
    y = np.exp(np.maximum(v * 2 + 1, 0))
    assert_allclose(exe.grad_dict['x'].asnumpy(), y * 2 * (v * 2 + 1 > 0), rtol=1e-5)


def test_memory_planning_frees_dead_values_and_works_in_place():
    with mx.name.NameManager():
        d = sym.var('data')
        c1 = sym.Activation(sym.Convolution(d, kernel=(3, 3), num_filter=4),
                            act_type='relu')
        p1 = sym.Pooling(c1, kernel=(2, 2), stride=(2, 2), pool_type='max')
        out = sym.FullyConnected(sym.Activation(p1, act_type='tanh'), num_hidden=3)
    naive, _ = plan_of(out, which=(), data=(8, 1, 10, 10))
    plan, _ = plan_of(out, which=ALL, data=(8, 1, 10, 10))
    conv, relu_out, pool = 8 * 4 * 8 * 8 * 4, 8 * 4 * 8 * 8 * 4, 8 * 4 * 4 * 4 * 4
    assert naive.naive['bytes'] == conv + relu_out + pool + pool + 8 * 3 * 4
    assert [s.inplace for s in plan.steps] == [False, True, False, True, False]
    assert plan.memory['planned_bytes'] == conv + pool + 8 * 3 * 4
    assert plan.memory['planned_peak'] == conv + pool
    assert [len(s.frees) for s in plan.steps] == [0, 1, 1, 1, 1]


def test_in_training_relu_overwrites_only_an_output_backward_never_reads():
    _, net, shape = pair(lenet)
    net.hybridize()
    x = nd.ones(shape)
    recorded(net, x, backward=True)
    (plan,) = net._last_graph.program.plans.values()
    assert plan.grad
    flags = {(s.op.name, s.inplace) for s in plan.steps}
    assert ('Activation_relu', True) in flags        # over the convolution's output
    assert ('tanh', True) not in flags and ('sigmoid', True) not in flags
    assert all(s.frees == () for s in plan.steps)    # backward reads every value


def test_in_place_really_happens_at_run_time():
    import tracemalloc
    _, net, _ = pair(mlp)
    net.hybridize()
    x = nd.ones((512, 12))
    y = recorded(net, x)
    saved = y._ag.inputs[-1]                # the forward's values, kept for backward
    (relu,) = [s for s in y._ag.op.plan.steps if s.op.name == 'Activation_relu']
    assert relu.inplace and saved[relu.out] is saved[relu.ins[0][0]]
    one = 512 * 16 * 4                      # the hidden layer's array, in bytes
    peaks = []
    for which in (('dce', 'fold', 'fuse'), ALL):    # without, then with planning
        only(net, which)
        for _ in range(2):
            net(x)
        tracemalloc.start()
        net(x)                              # prediction: FC, relu (in place?), FC
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[0] - peaks[1] >= one // 2  # relu's array was never allocated


def test_in_place_is_refused_when_someone_holds_a_view():
    """The static decision is checked at run time: a value with a view alive is not
    overwritten (here: the reshape's output is a head that views the FC's value)."""
    with mx.name.NameManager():
        x = sym.var('x')
        fc = sym.FullyConnected(x, num_hidden=4)
        out = sym.Group([sym.relu(fc), sym.reshape(fc, shape=(-1,))])
    plan, exe = plan_of(out, x=(2, 3))
    relu_out, flat = exe.forward(x=nd.ones((2, 3)))
    assert_allclose(relu_out.asnumpy().reshape(-1), np.maximum(flat.asnumpy(), 0))
    assert (flat.asnumpy() < 0).any()            # the view kept its negative values


def test_backward_plan_skips_gradients_nobody_needs():
    with mx.name.NameManager():
        data = sym.var('data')
        out = sym.FullyConnected(sym.relu(sym.FullyConnected(data, num_hidden=4)),
                                 num_hidden=2)
    plan, exe = plan_of(out, is_train=True, grad_req={'fullyconnected0_weight': 'write',
                                                       'fullyconnected1_weight': 'write'},
                        data=(3, 5))
    needs = tuple(name != 'data' and 'weight' in name for name, _ in
                  exe._program.variables)
    needed = plan.needed(needs)
    data_slot = dict(exe._program.variables)['data']
    assert data_slot not in needed and plan.steps[0].out in needed


def test_static_alloc_reuses_buffers_but_never_outputs():
    class Chain(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.sum(F.exp(x * 2) + 1, axis=1)

    block = Chain()
    block.hybridize(static_alloc=True)
    outs, buffers = [], []
    for i in range(4):
        outs.append(block(nd.ones((3, 4)) * i))
        buffers.extend(block._last_graph.program.plans and
                       [id(b) for p in block._last_graph.program.plans.values()
                        for b in p.buffers.values()])
    assert len(set(buffers[1:])) == 1                    # one buffer, reused
    values = [o.asnumpy() for o in outs]
    assert len({v.tobytes() for v in values}) == 4       # earlier outputs kept


# ---------------------------------------------------------------- the fallback rule

def test_a_node_without_raw_form_keeps_the_graph_interpreted():
    class Elu(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.LeakyReLU(x * 2, act_type='elu', slope=1.0)

    block = Elu()
    block.hybridize()
    x = nd.array([[-1.0, 0.5]])
    x.attach_grad()
    y = recorded(block, x, backward=True)
    assert 'LeakyReLU' in block._last_graph.program.why_not
    assert y._ag.op.name != '_CachedOp'
    assert_allclose(y.asnumpy(), [[np.exp(-2.0) - 1, 1.0]], rtol=1e-6)
    assert_allclose(x.grad.asnumpy(), [[2 * np.exp(-2.0), 2.0]], rtol=1e-5)


def test_anomaly_mode_runs_the_interpreted_program():
    _, net, shape = pair(mlp)
    net.hybridize()
    x = nd.ones(shape)
    net(x)
    with autograd.detect_anomaly():
        with autograd.record():
            y = net(x)
    assert y._ag.op.name != '_CachedOp'


def test_errors_are_explained_by_nd():
    _, net, _ = pair(mlp)
    net.hybridize()
    net(nd.ones((2, 12)))
    net(nd.ones((2, 12)))
    with pytest.raises(MXNetError, match='FullyConnected'):
        net(nd.ones((2, 13)))


# ------------------------------------------------------------------- the executor

def test_executor_gradients_and_grad_req_add():
    with mx.name.NameManager():
        data = sym.var('data')
        out = sym.make_loss(sym.sum(sym.tanh(sym.FullyConnected(data, num_hidden=3))))
    exe = out.simple_bind(mx.cpu(), data=(4, 5), grad_req='add')
    rng = np.random.RandomState(1)
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.uniform(-1, 1, arr.shape)
    for _ in range(3):
        exe.forward(is_train=True)
        exe.backward()
    w, b, x = (exe.arg_dict[n].asnumpy() for n in
               ('fullyconnected0_weight', 'fullyconnected0_bias', 'data'))
    g = 1 - np.tanh(x @ w.T + b) ** 2
    assert_allclose(exe.grad_dict['fullyconnected0_weight'].asnumpy(), 3 * g.T @ x,
                    rtol=1e-5, atol=1e-6)
    assert_allclose(exe.grad_dict['data'].asnumpy(), 3 * g @ w, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- deep graphs

def test_deep_graphs_need_no_recursion():
    x = nd.ones((2,))
    x.attach_grad()
    with autograd.record():
        y = x
        for _ in range(5000):
            y = y * 1.0001
    graph = autograd.get_symbol(y)
    assert len(graph.tojson().split('"op": "_mul_scalar"')) == 5001
    got = graph.eval(var0=nd.ones((2,)))[0].asnumpy()
    assert_allclose(got, y.asnumpy(), rtol=1e-5)
    out = graph.simple_bind(mx.cpu(), var0=(2,))
    out.forward(var0=nd.ones((2,)))
    assert_allclose(out.forward(var0=nd.ones((2,)))[0].asnumpy(), y.asnumpy(), rtol=1e-5)


# ---------------------------------------------------------------- on a GPU

@pytest.mark.gpu
def test_compiled_plans_on_a_gpu_match_the_imperative_path():
    plain, hybrid, shape = pair(dropout)
    ctx = mx.gpu(0)
    for net in (plain, hybrid):
        net.collect_params().reset_ctx(ctx)
    hybrid.hybridize(static_alloc=True)
    x = nd.array(np.random.RandomState(0).uniform(-1, 1, shape), ctx=ctx)
    for i in range(3):
        assert_same(step(hybrid, x, i), step(plain, x, i))
        with autograd.predict_mode():
            assert_allclose(hybrid(x).asnumpy(), plain(x).asnumpy(), rtol=1e-5,
                            atol=1e-6)
    assert hybrid._last_graph.program.why_not is None
    assert len(hybrid._last_graph.program.plans) == 2


def test_symbolblock_takes_the_flags_and_get_symbol_inlines_cached_ops():
    with mx.name.NameManager():
        x = sym.var('x')
        out = sym.sum(sym.exp(x * 2) + 1, axis=1)
    block = gluon.SymbolBlock(out, [x])
    block.hybridize(static_alloc=True)
    a = nd.ones((2, 3))
    a.attach_grad()
    y = recorded(block, a, times=3)
    program = block._last_graph.program
    assert program.static_alloc and program.plans
    assert_allclose(y.asnumpy(), [3 * (np.exp(2) + 1)] * 2, rtol=1e-6)
    assert y._ag.op.name == '_CachedOp'
    graph = autograd.get_symbol(y)          # the graph inside the _CachedOp node
    assert graph.list_arguments() == ['var0']
    assert [n for n in graph.get_internals().list_outputs() if n != 'var0'] == \
        out.get_internals().list_outputs()[1:]
    assert_allclose(graph.eval(var0=a)[0].asnumpy(), y.asnumpy(), rtol=1e-6)


def test_plans_are_bounded_for_many_input_shapes():
    _, net, _ = pair(mlp)
    net.hybridize()
    for batch in range(1, passes.MAX_PLANS + 6):
        for _ in range(2):
            y = net(nd.ones((batch, 12)))
    assert len(net._last_graph.program.plans) == passes.MAX_PLANS
    assert y.shape == (batch, 5)


def test_input_gradients_shared_calls_and_two_contexts():
    """A gradient for the data, the same network called twice in one recording, and
    copies on cpu(0) and cpu(1): all as the imperative path computes them."""
    plain, hybrid, shape = pair(lenet)
    ctxs = [mx.cpu(0), mx.cpu(1)]
    for net in (plain, hybrid):
        net.collect_params().reset_ctx(ctxs)
    hybrid.hybridize()
    data = np.random.RandomState(4).uniform(-1, 1, shape)
    for i in range(3):
        results = []
        for net in (plain, hybrid):
            xs = [nd.array(data, ctx=c) for c in ctxs]
            for x in xs:
                x.attach_grad()
            with autograd.record():
                losses = [(net(x) * net(x * 2)).sum() for x in xs]
            autograd.backward(losses)
            results.append([x.grad.asnumpy() for x in xs] +
                           [p.grad(c).asnumpy() for p in net.collect_params().values()
                            for c in ctxs])
        assert_same([results[1]], [results[0]])
    assert len(hybrid._last_graph.program.plans) == 2      # one per context


def _training_peaks(net, x):
    """(memory the forward keeps for backward, peak of the backward pass), in bytes."""
    import tracemalloc
    recorded(net, x, backward=True, total=True)
    tracemalloc.start()
    with autograd.record():
        y = net(x).sum()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    y.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return kept, peak


def test_training_keeps_less_and_backward_frees_values_after_their_last_use():
    """In training the compiled graph's relu overwrites the convolution's output, so
    it keeps less for backward; the backward plan frees each saved value after the
    last step that reads it (as the imperative tape releases each node), so its peak
    is no higher than the imperative one."""
    imperative, hybrid, _ = pair(lenet)
    hybrid.hybridize()
    x = nd.random.normal(shape=(16, 1, 14, 14))
    kept_i, peak_i = _training_peaks(imperative, x)
    kept_h, peak_h = _training_peaks(hybrid, x)
    conv_out = 16 * 4 * 14 * 14 * 4          # the first convolution's output, in bytes
    assert kept_i - kept_h >= conv_out       # relu wrote over it instead of beside it
    assert peak_h <= peak_i
    for a, b in zip(imperative.collect_params().values(),
                    hybrid.collect_params().values()):
        assert_allclose(b.grad().asnumpy(), a.grad().asnumpy(), rtol=1e-5, atol=1e-6)


def test_retain_graph_keeps_the_values_for_a_second_backward():
    _, net, shape = pair(lenet)
    net.hybridize()
    x = nd.random.normal(shape=shape)
    y = recorded(net, x, total=True)
    y.backward(retain_graph=True)
    first = [p.grad().asnumpy().copy() for p in net.collect_params().values()]
    y.backward()                             # the values are all still there
    for g, p in zip(first, net.collect_params().values()):
        assert_allclose(p.grad().asnumpy(), g, rtol=1e-6)
    with pytest.raises(MXNetError, match='already freed'):
        y.backward()


def test_activation_relu_in_place_keeps_mxnets_zero_at_nan():
    """Activation(relu) gives 0 at NaN (MXNet's Activation); overwriting its input in
    place must do the same as the copy it replaces."""
    net = nn.HybridSequential()
    net.add(nn.Dense(3, activation='relu', in_units=2))
    net.initialize(mx.init.One())
    net.hybridize()
    x = nd.array([[np.nan, 1.0], [1.0, 2.0]])
    y = recorded(net, x, times=3)
    (plan,) = net._last_graph.program.plans.values()
    assert any(s.inplace for s in plan.steps)
    assert_allclose(y.asnumpy(), [[0, 0, 0], [3, 3, 3]])


def test_static_alloc_keeps_no_buffer_for_a_step_that_ran_in_place():
    """An in-place step writes into its dying input, so keeping that array across
    calls would only hold memory (a LeNet's convolution outputs) for nothing."""
    _, net, shape = pair(lenet)
    net.hybridize(static_alloc=True)
    x = nd.ones((8,) + shape[1:])
    for _ in range(3):
        net(x)
    (plan,) = net._last_graph.program.plans.values()
    inplace = [s.out for s in plan.steps if s.inplace]
    assert inplace and not set(inplace) & set(plan.buffers)


def test_the_first_call_frees_values_after_their_last_reader():
    """The first call of a kind runs the interpreted program; like the plan, it
    drops each value after its last reader, so its peak is the imperative one's."""
    import tracemalloc
    layers = [nn.Dense(256, activation='relu', in_units=256) for _ in range(8)]
    imperative, hybrid = nn.HybridSequential(), nn.HybridSequential()
    imperative.add(*layers)
    hybrid.add(*layers)                      # the same layers, the same parameters
    imperative.initialize()
    hybrid.hybridize()
    x = nd.ones((256, 256))
    peaks = []
    for net in (imperative, hybrid):
        tracemalloc.start()
        net(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    one = 256 * 256 * 4                      # one layer's output, in bytes
    assert peaks[1] < peaks[0] + 2 * one     # not all eight outputs at once
