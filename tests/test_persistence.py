"""Chapter 6: saving and loading arrays and parameters, sharing, and the chapter's flows.

Reference semantics: MXNet 1.9.1 (`nd.save`/`nd.load`, `Block.save_parameters`/
`load_parameters`, `ParameterDict.save`/`load`, `Block.share_parameters`), plus the design's
"Nothing lost" (atomic checkpoints, no pickles) and "Better errors" conventions.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import DeferredInitializationError, nn
from minimx.gluon import block as block_module
from minimx.ndarray import serialization

pytestmark = pytest.mark.ch08


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def values(net) -> dict:
    """Structural key -> a NumPy copy of the parameter's value (first context)."""
    return {k: p.list_data()[0].asnumpy().copy()
            for k, p in net._collect_params_with_prefix().items()}


def mlp(prefix=None, seed=0):
    """Two Dense layers with known input size, initialized from `seed`."""
    net = nn.HybridSequential(prefix=prefix)
    with net.name_scope():
        net.add(nn.Dense(5, activation='relu', in_units=4), nn.Dense(3, in_units=5))
    mx.random.seed(seed)
    net.initialize(mx.init.Normal(1.0))
    return net


class Tower(gluon.Block):
    """A custom Block with child attributes (one a Sequential) and a Parameter attribute."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.base = nn.HybridSequential()
            self.base.add(nn.Dense(6, activation='relu', in_units=4), nn.Dense(5, in_units=6))
            self.head = nn.Dense(2, in_units=5)
            self.scale = self.params.get('gamma', shape=(2,), init=mx.init.Constant(3.0))

    def forward(self, x):
        return self.head(self.base(x)) * self.scale.data(x.context)


TOWER_KEYS = {'base.0.weight', 'base.0.bias', 'base.1.weight', 'base.1.bias',
              'head.weight', 'head.bias', 'scale'}


def only_files(folder) -> list:
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------ nd.save / nd.load

def test_single_array_loads_as_list_of_one(tmp_path):
    path = str(tmp_path / 'one.nd')
    nd.save(path, nd.array([[1.5, -2.0, 3.25]]))
    loaded = nd.load(path)
    assert isinstance(loaded, list) and len(loaded) == 1
    assert loaded[0].shape == (1, 3)
    assert_array_equal(loaded[0].asnumpy(), np.array([[1.5, -2.0, 3.25]], dtype=np.float32))
    assert loaded[0].context == mx.cpu(0)


def test_list_keeps_order_and_dict_keeps_names(tmp_path):
    path = str(tmp_path / 'arrays.nd')
    arrays = [nd.array(np.full((i + 1,), float(i))) for i in range(12)]   # > 10: '10' < '2'
    nd.save(path, arrays)
    loaded = nd.load(path)
    assert isinstance(loaded, list)
    assert [a.asnumpy().tolist() for a in loaded] == [[float(i)] * (i + 1) for i in range(12)]

    nd.save(path, {'w': nd.array([[1.0, 2.0]]), 'b': nd.array([7.0])})
    loaded = nd.load(path)
    assert isinstance(loaded, dict) and set(loaded) == {'w', 'b'}
    assert loaded['w'].asnumpy().tolist() == [[1.0, 2.0]]
    assert loaded['b'].asnumpy().tolist() == [7.0]


@pytest.mark.parametrize('dtype', ['float32', 'float64', 'int32', 'uint8'])
@pytest.mark.parametrize('shape', [(1,), (0, 3), (2, 3, 4)])
def test_dtypes_and_shapes_round_trip_exactly(tmp_path, dtype, shape):
    rng = np.random.RandomState(0)
    raw = (rng.uniform(0, 250, size=shape)).astype(dtype)
    if dtype.startswith('float'):
        raw = raw + np.asarray(1 / 3, dtype=dtype)          # bits beyond float32 for float64
    path = str(tmp_path / 'typed.nd')
    nd.save(path, {'x': nd.array(raw, dtype=dtype)})
    back = nd.load(path)['x']
    assert back.dtype == np.dtype(dtype)
    assert back.shape == shape
    assert back.asnumpy().tobytes() == raw.tobytes()


def test_load_onto_another_context(tmp_path):
    path = str(tmp_path / 'ctx.nd')
    nd.save(path, {'a': nd.array([1.0, 2.0]), 'b': nd.array([3.0])})
    loaded = nd.load(path, ctx=mx.cpu(1))
    assert {k: v.context for k, v in loaded.items()} == {'a': mx.cpu(1), 'b': mx.cpu(1)}
    assert loaded['a'].asnumpy().tolist() == [1.0, 2.0]
    nd.save(path, [nd.array([4.0], ctx=mx.cpu(1)), nd.array([5.0])])
    lst = nd.load(path, ctx=mx.cpu(1))
    assert [(v.context, v.asnumpy().tolist()) for v in lst] == [(mx.cpu(1), [4.0]),
                                                               (mx.cpu(1), [5.0])]


@pytest.mark.parametrize('data, words', [
    ([nd.ones(2), np.ones(2)], ['1', 'ndarray']),
    ({'w': nd.ones(2), 'b': [1.0, 2.0]}, ['b', 'list']),
    ({1: nd.ones(2)}, ['keys', '1']),
    (5, ['int']),
])
def test_save_rejects_bad_inputs_and_writes_nothing(tmp_path, data, words):
    path = str(tmp_path / 'bad.nd')
    with pytest.raises(MXNetError) as info:
        nd.save(path, data)
    for word in words:
        assert word in str(info.value)
    assert only_files(tmp_path) == []


def test_plain_numpy_archive_without_marker_is_refused(tmp_path):
    path = str(tmp_path / 'plain.npz')
    np.savez(path, x=np.ones(2))
    with pytest.raises(MXNetError, match='marker') as info:
        nd.load(path)
    assert path in str(info.value)


def test_text_file_is_refused_naming_it(tmp_path):
    path = str(tmp_path / 'notes.txt')
    with open(path, 'w') as f:
        f.write('this is not a checkpoint\n')
    with pytest.raises(MXNetError) as info:
        nd.load(path)
    assert path in str(info.value)
    assert 'npz' in str(info.value).lower() or 'archive' in str(info.value)


def test_missing_file_is_named(tmp_path):
    path = str(tmp_path / 'absent.nd')
    with pytest.raises(MXNetError, match='no such file') as info:
        nd.load(path)
    assert path in str(info.value)


def test_truncated_file_is_refused_naming_it(tmp_path):
    path = str(tmp_path / 'cut.nd')
    nd.save(path, {'w': nd.array(np.arange(2000, dtype=np.float32)), 'b': nd.ones(3)})
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(size // 2)
    with pytest.raises(MXNetError) as info:
        nd.load(path)
    assert path in str(info.value)
    assert 'truncated' in str(info.value)


class _CreatesFile:
    """Unpickling this object creates a file: evidence that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, 'w'))


def test_pickled_archive_is_refused_and_never_executes(tmp_path):
    evidence = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.npz')
    np.savez(path, __minimx_arrays__=np.array('dict'),
             w=np.array([_CreatesFile(evidence)], dtype=object))
    with pytest.raises(MXNetError, match='(?i)pickl') as info:
        nd.load(path)
    assert path in str(info.value)
    assert not os.path.exists(evidence)
    net = nn.Dense(2, in_units=2)
    with pytest.raises(MXNetError):
        net.load_parameters(path)
    assert not os.path.exists(evidence)
    # Control: the payload is real -- unpickling it does create the file.
    with np.load(path, allow_pickle=True) as archive:
        archive['w']
    assert os.path.exists(evidence)


def test_raw_pickle_file_is_refused_and_never_executes(tmp_path):
    evidence = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.params')
    with open(path, 'wb') as f:
        pickle.dump({'weight': _CreatesFile(evidence)}, f)
    with pytest.raises(MXNetError) as info:
        nd.load(path)
    assert path in str(info.value)
    assert not os.path.exists(evidence)


# ------------------------------------------------------------------ atomic saving

@pytest.mark.parametrize('failure', [OSError(28, 'No space left on device'),
                                     KeyboardInterrupt()])
def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path, monkeypatch, failure):
    path = str(tmp_path / 'ckpt.params')
    net = mlp()
    net.save_parameters(path)
    before = open(path, 'rb').read()

    def half_write(f, **arrays):
        f.write(b'PK\x03\x04' + b'\0' * 100)      # a partial archive ...
        raise failure                               # ... then the disk fills up

    monkeypatch.setattr(serialization.np, 'savez', half_write)
    other = mlp(seed=1)
    with pytest.raises(type(failure)):
        other.save_parameters(path)
    with pytest.raises(type(failure)):
        nd.save(path, {'x': nd.ones(3)})
    monkeypatch.undo()
    assert open(path, 'rb').read() == before
    assert only_files(tmp_path) == ['ckpt.params']
    fresh = mlp(seed=5)
    fresh.load_parameters(path)
    for key, value in values(net).items():
        assert_array_equal(values(fresh)[key], value)


def test_file_size_limit_during_save_keeps_old_checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.params')
    small = mlp()
    small.save_parameters(path)
    before = open(path, 'rb').read()
    script = textwrap.dedent('''
        import resource, signal, sys
        import minimx as mx
        from minimx.gluon import nn
        net = nn.HybridSequential()
        net.add(nn.Dense(500, in_units=8), nn.Dense(3, in_units=500))
        net.initialize()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        limit = 2000 if hard == resource.RLIM_INFINITY else min(2000, hard)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        try:
            net.save_parameters(sys.argv[1])
        except OSError as err:
            print('OSError', err.errno)
            sys.exit(0)
        print('saved anyway')
        sys.exit(1)
    ''')
    result = subprocess.run([sys.executable, '-c', script, path], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith('OSError 27')            # EFBIG: File too large
    assert open(path, 'rb').read() == before
    assert only_files(tmp_path) == ['ckpt.params']


def test_successful_save_replaces_the_file(tmp_path):
    path = str(tmp_path / 'ckpt.params')
    first, second = mlp(seed=0), mlp(seed=1)
    first.save_parameters(path)
    second.save_parameters(path)
    assert only_files(tmp_path) == ['ckpt.params']
    loaded = nd.load(path)
    for key, value in values(second).items():
        assert_array_equal(loaded[key].asnumpy(), value)
    assert not np.array_equal(values(first)['0.weight'], values(second)['0.weight'])


def test_save_into_missing_folder_raises_and_creates_nothing(tmp_path):
    path = str(tmp_path / 'nope' / 'ckpt.params')
    with pytest.raises((OSError, MXNetError)) as info:
        mlp().save_parameters(path)
    assert str(tmp_path / 'nope') in str(info.value)
    assert not os.path.exists(tmp_path / 'nope')


def test_save_into_missing_folder_names_the_target(tmp_path):
    path = str(tmp_path / 'nope' / 'ckpt.params')
    with pytest.raises((OSError, MXNetError)) as info:
        mlp().save_parameters(path)
    assert path in str(info.value)
    assert '.tmp' not in str(info.value)


# ------------------------------------------------------------------ save_parameters keys

def test_structural_keys_of_sequential_and_custom_block(tmp_path):
    path = str(tmp_path / 'p.params')
    net = mlp()
    net.save_parameters(path)
    assert set(nd.load(path)) == {'0.weight', '0.bias', '1.weight', '1.bias'}

    tower = Tower()
    tower.initialize()
    tower.save_parameters(path)
    loaded = nd.load(path)
    assert set(loaded) == TOWER_KEYS
    assert loaded['base.1.bias'].shape == (5,)
    assert loaded['head.weight'].shape == (2, 5)
    assert_array_equal(loaded['scale'].asnumpy(), [3.0, 3.0])


def test_round_trip_restores_exact_values_and_outputs(tmp_path):
    path = str(tmp_path / 'tower.params')
    mx.random.seed(0)
    tower = Tower()
    tower.initialize(mx.init.Normal(1.0))
    tower.scale.set_data(nd.array([0.5, -2.0]))
    tower.save_parameters(path)
    x = nd.array(np.random.RandomState(0).randn(3, 4))
    mx.random.seed(7)
    rebuilt = Tower()                                  # another prefix: tower1_
    rebuilt.initialize(mx.init.Normal(1.0))
    assert rebuilt.prefix != tower.prefix
    rebuilt.load_parameters(path)
    for key, value in values(tower).items():
        assert_array_equal(values(rebuilt)[key], value)
    assert_array_equal(rebuilt(x).asnumpy(), tower(x).asnumpy())


def test_rebuilt_and_custom_prefix_nets_load(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp(seed=0)
    original.save_parameters(path)
    later = mlp(seed=3)                                 # hybridsequential1_...
    custom = mlp(prefix='model_', seed=4)               # model_dense0_...
    assert {later.prefix, custom.prefix, original.prefix} == \
        {'hybridsequential0_', 'hybridsequential1_', 'model_'}
    assert list(custom.collect_params())[0] == 'model_dense0_weight'
    for net in (later, custom):
        net.load_parameters(path)
        for key, value in values(original).items():
            assert_array_equal(values(net)[key], value)


def test_load_onto_two_contexts_gives_identical_copies(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp()
    original.save_parameters(path)
    target = mlp(seed=2)                             # initialized on cpu(0) only
    target.load_parameters(path, ctx=[mx.cpu(0), mx.cpu(1)])
    for key, p in target._collect_params_with_prefix().items():
        assert p.list_ctx() == [mx.cpu(0), mx.cpu(1)]
        assert_array_equal(p.data(mx.cpu(0)).asnumpy(), values(original)[key])
        assert_array_equal(p.data(mx.cpu(1)).asnumpy(), values(original)[key])
    x = nd.ones((2, 4))
    assert_array_equal(target(x.as_in_context(mx.cpu(1))).asnumpy(), original(x).asnumpy())


def test_saving_a_multi_device_net_stores_the_mean_of_the_copies(tmp_path):
    path = str(tmp_path / 'multi.params')
    net = nn.HybridSequential()
    net.add(nn.Dense(3, in_units=2))
    net.initialize(mx.init.Constant(1.0), ctx=[mx.cpu(0), mx.cpu(1)])
    w = net[0].weight
    on_cpu1 = np.array([[2.0, 4.0], [6.0, 8.0], [-1.0, 0.5]], dtype=np.float32)
    w.data(mx.cpu(1))[:] = nd.array(on_cpu1, ctx=mx.cpu(1))
    assert_array_equal(w.data(mx.cpu(0)).asnumpy(), np.ones((3, 2)))
    net.save_parameters(path)
    saved = nd.load(path)
    assert_allclose(saved['0.weight'].asnumpy(), (1.0 + on_cpu1) / 2, rtol=1e-7)
    assert_array_equal(saved['0.bias'].asnumpy(), [0.0, 0.0, 0.0])     # Dense's own 'zeros'
    assert saved['0.weight'].context == mx.cpu(0)


# ------------------------------------------------------------------ load_parameters errors

def test_missing_parameter_names_key_lists_file_and_suggests_allow_missing(tmp_path):
    path = str(tmp_path / 'mlp.params')
    mlp().save_parameters(path)
    deeper = mlp(seed=1)
    deeper.add(nn.Dense(2, in_units=3))
    with pytest.raises(MXNetError) as info:
        deeper.load_parameters(path)
    message = str(info.value)
    for word in ('2.weight', '2.bias', '0.weight', '0.bias', '1.weight', '1.bias',
                 'allow_missing', path):
        assert word in message


def test_allow_missing_leaves_missing_parameters_untouched(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp()
    original.save_parameters(path)
    deeper = mlp(seed=1)
    extra_layer = nn.Dense(2, in_units=3)
    deeper.add(extra_layer)
    deeper.load_parameters(path, allow_missing=True)         # third layer never initialized
    assert_array_equal(deeper[0].weight.data().asnumpy(), original[0].weight.data().asnumpy())
    with pytest.raises(RuntimeError, match='has not been initialized'):
        extra_layer.weight.data()

    extra_layer.initialize(mx.init.Constant(4.0))
    deeper.load_parameters(path, allow_missing=True)          # now initialized: kept as is
    assert_array_equal(extra_layer.weight.data().asnumpy(), np.full((2, 3), 4.0))


def test_extra_parameter_is_named_and_ignore_extra_skips_it(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp()
    original.save_parameters(path)
    shallow = nn.HybridSequential()
    shallow.add(nn.Dense(5, activation='relu', in_units=4))
    with pytest.raises(MXNetError) as info:
        shallow.load_parameters(path)
    message = str(info.value)
    assert "'1.weight'" in message and "'1.bias'" in message and 'ignore_extra' in message
    shallow.load_parameters(path, ignore_extra=True)
    assert_array_equal(shallow[0].weight.data().asnumpy(), original[0].weight.data().asnumpy())
    assert_array_equal(shallow[0].bias.data().asnumpy(), original[0].bias.data().asnumpy())


def test_shape_mismatch_names_key_parameter_and_both_shapes(tmp_path):
    path = str(tmp_path / 'mlp.params')
    mlp().save_parameters(path)
    wider = nn.HybridSequential()
    wider.add(nn.Dense(7, activation='relu', in_units=4), nn.Dense(3, in_units=7))
    wider.initialize()
    with pytest.raises(MXNetError) as info:
        wider.load_parameters(path)
    message = str(info.value)
    assert "'0.weight'" in message and 'dense0_weight' in message
    assert '(5, 4)' in message and '(7, 4)' in message


def test_dtype_mismatch_suggests_cast_dtype_and_cast_converts(tmp_path):
    path = str(tmp_path / 'f64.params')
    source = mlp()
    source.cast('float64')
    source[0].weight.set_data(nd.array(np.full((5, 4), 1 / 3), dtype='float64'))
    source.save_parameters(path)
    assert nd.load(path)['0.weight'].dtype == np.float64

    target = mlp(seed=1)
    with pytest.raises(MXNetError) as info:
        target.load_parameters(path)
    message = str(info.value)
    assert 'cast_dtype' in message and 'float64' in message and 'float32' in message

    target.load_parameters(path, cast_dtype=True)             # dtype_source='current'
    w = target[0].weight
    assert w.dtype == np.float32 and w.data().dtype == np.float32
    assert_array_equal(w.data().asnumpy(), np.full((5, 4), 1 / 3, dtype=np.float32))

    keep = mlp(seed=2)
    keep.load_parameters(path, cast_dtype=True, dtype_source='saved')
    assert keep[0].weight.dtype == np.float64
    assert keep[0].weight.data().asnumpy().tobytes() == np.full((5, 4), 1 / 3).tobytes()


def test_loading_into_deferred_parameters_initializes_them(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp()
    original.save_parameters(path)
    lazy = nn.HybridSequential()
    lazy.add(nn.Dense(5, activation='relu'), nn.Dense(3))     # in_units unknown
    lazy.initialize()
    with pytest.raises(DeferredInitializationError):
        lazy[0].weight.data()
    lazy.load_parameters(path)
    assert lazy[0].weight.shape == (5, 4) and lazy[1].weight.shape == (3, 5)
    assert_array_equal(lazy[0].weight.data().asnumpy(), original[0].weight.data().asnumpy())
    x = nd.array(np.random.RandomState(1).randn(2, 4))
    assert_array_equal(lazy(x).asnumpy(), original(x).asnumpy())


def test_loading_into_a_never_initialized_net(tmp_path):
    path = str(tmp_path / 'mlp.params')
    original = mlp()
    original.save_parameters(path)
    fresh = nn.HybridSequential()
    fresh.add(nn.Dense(5, activation='relu'), nn.Dense(3))    # no initialize() at all
    fresh.load_parameters(path)
    assert fresh[1].bias.list_ctx() == [mx.cpu(0)]
    x = nd.array(np.random.RandomState(2).randn(3, 4))
    assert_array_equal(fresh(x).asnumpy(), original(x).asnumpy())

    on_two = nn.HybridSequential()
    on_two.add(nn.Dense(5, activation='relu'), nn.Dense(3))
    on_two.load_parameters(path, ctx=[mx.cpu(0), mx.cpu(1)])
    assert on_two[0].weight.list_ctx() == [mx.cpu(0), mx.cpu(1)]
    assert_array_equal(on_two[0].weight.data(mx.cpu(1)).asnumpy(),
                       original[0].weight.data().asnumpy())


def test_list_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / 'list.nd')
    nd.save(path, [nd.ones((5, 4)), nd.ones(5)])
    with pytest.raises(MXNetError, match='list') as info:
        mlp().load_parameters(path)
    assert path in str(info.value)
    with pytest.raises(MXNetError, match='list'):
        mlp().collect_params().load(path)


def test_prefix_stripped_full_name_file_is_accepted(tmp_path):
    path = str(tmp_path / 'legacy.params')
    original = mlp(seed=0)
    original.collect_params().save(path, strip_prefix=original.prefix)   # MXNet's save_params
    assert set(nd.load(path)) == {'dense0_weight', 'dense0_bias', 'dense1_weight',
                                  'dense1_bias'}
    rebuilt = mlp(seed=1)
    assert rebuilt.prefix != original.prefix
    rebuilt.load_parameters(path)
    for key, value in values(original).items():
        assert_array_equal(values(rebuilt)[key], value)


def _shared_pair():
    encoder = nn.Dense(4, in_units=3)
    twin = nn.Dense(4, in_units=3, params=encoder.collect_params())
    pair = nn.HybridSequential()
    pair.add(encoder, twin)
    return pair


def test_deduplicate_saves_each_shared_parameter_once(tmp_path):
    path, full = str(tmp_path / 'dedup.params'), str(tmp_path / 'full.params')
    pair = _shared_pair()
    mx.random.seed(0)
    pair.initialize(mx.init.Normal(1.0))
    pair.save_parameters(full)
    assert set(nd.load(full)) == {'0.weight', '0.bias', '1.weight', '1.bias'}
    pair.save_parameters(path, deduplicate=True)
    saved = nd.load(path)
    assert len(saved) == 2
    weight_keys = [k for k in saved if k.endswith('weight')]
    assert len(weight_keys) == 1 and weight_keys[0] in ('0.weight', '1.weight')
    assert_array_equal(saved[weight_keys[0]].asnumpy(), pair[0].weight.data().asnumpy())


@pytest.mark.parametrize('alias', ['0', '1'])
def test_deduplicated_file_loads_into_shared_network(tmp_path, alias):
    path = str(tmp_path / 'dedup.params')
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    nd.save(path, {f'{alias}.weight': nd.array(w), f'{alias}.bias': nd.ones(4)})
    pair = _shared_pair()
    pair.load_parameters(path)
    assert_array_equal(pair[0].weight.data().asnumpy(), w)
    assert pair[1].weight is pair[0].weight


def test_saving_with_a_deferred_branch_names_the_parameter_and_the_fix(tmp_path):
    path = str(tmp_path / 'ckpt.params')
    mlp().save_parameters(path)
    before = open(path, 'rb').read()
    net = nn.HybridSequential()
    net.add(nn.Dense(5, in_units=4), nn.Dense(3))             # second layer: never run
    net.initialize()
    with pytest.raises(DeferredInitializationError) as info:
        net.save_parameters(path)
    message = str(info.value)
    assert 'dense1_weight' in message
    assert 'forward' in message and 'in_units' in message
    assert open(path, 'rb').read() == before
    assert only_files(tmp_path) == ['ckpt.params']


def test_flat_block_with_renamed_parameter_round_trips(tmp_path):
    class Scale(gluon.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.scale = self.params.get('gamma', shape=(2,))

        def forward(self, x):
            return x * self.scale.data()

    path = str(tmp_path / 'scale.params')
    block = Scale()
    block.initialize(mx.init.Constant(2.5))
    block.save_parameters(path)
    assert set(nd.load(path)) == {'scale'}
    other = Scale()
    other.load_parameters(path)
    assert_array_equal(other.scale.data().asnumpy(), [2.5, 2.5])


# ------------------------------------------------------------------ ParameterDict.save/load

def test_parameterdict_strip_and_restore_prefix_round_trip(tmp_path):
    path = str(tmp_path / 'pd.params')
    original = mlp(prefix='model_', seed=0)
    original.collect_params().save(path, strip_prefix='model_')
    loaded = nd.load(path)                                   # readable by nd.load
    assert set(loaded) == {'dense0_weight', 'dense0_bias', 'dense1_weight', 'dense1_bias'}
    assert_array_equal(loaded['dense1_weight'].asnumpy(), original[1].weight.data().asnumpy())

    other = mlp(prefix='copy_', seed=1)
    other.collect_params().load(path, restore_prefix='copy_')
    for key, value in values(original).items():
        assert_array_equal(values(other)[key], value)

    with pytest.raises(MXNetError, match="strip_prefix='other_'.*model_dense0_weight"):
        original.collect_params().save(path, strip_prefix='other_')


def test_parameterdict_full_names_readable_by_nd_load(tmp_path):
    path = str(tmp_path / 'full.params')
    net = mlp(seed=0)
    net.collect_params().save(path)
    loaded = nd.load(path)
    assert set(loaded) == set(net.collect_params().keys())
    for name, p in net.collect_params().items():
        assert_array_equal(loaded[name].asnumpy(), p.data().asnumpy())


def test_parameterdict_missing_and_extra_errors(tmp_path):
    path = str(tmp_path / 'pd.params')
    net = mlp(prefix='model_', seed=0)
    net.collect_params().save(path, strip_prefix='model_')
    bigger = mlp(prefix='model_', seed=1)
    bigger.add(nn.Dense(2, in_units=3, prefix='model_dense2_'))
    with pytest.raises(MXNetError) as info:
        bigger.collect_params().load(path, restore_prefix='model_')
    message = str(info.value)
    assert 'model_dense2_weight' in message and 'allow_missing' in message
    assert 'model_dense0_weight' in message                 # lists what the file holds
    bigger.collect_params().load(path, restore_prefix='model_', allow_missing=True)
    assert_array_equal(bigger[0].weight.data().asnumpy(), net[0].weight.data().asnumpy())

    smaller = nn.HybridSequential(prefix='model_')
    with smaller.name_scope():
        smaller.add(nn.Dense(5, activation='relu', in_units=4))
    with pytest.raises(MXNetError) as info:
        smaller.collect_params().load(path, restore_prefix='model_')
    message = str(info.value)
    assert 'model_dense1_weight' in message and 'ignore_extra' in message
    smaller.collect_params().load(path, restore_prefix='model_', ignore_extra=True)
    assert_array_equal(smaller[0].bias.data().asnumpy(), net[0].bias.data().asnumpy())


def test_parameterdict_load_dtype_mismatch_is_an_error(tmp_path):
    path = str(tmp_path / 'f64.params')
    nd.save(path, {'w': nd.array(np.full((2,), 1 / 3), dtype='float64')})
    params = gluon.ParameterDict('m_')
    params.get('w', shape=(2,))
    with pytest.raises(MXNetError, match='cast_dtype'):
        params.load(path, restore_prefix='m_')


# ------------------------------------------------------------------ share_parameters

def test_share_parameters_uses_the_same_objects():
    mx.random.seed(0)
    first = mlp(seed=0)
    second = nn.HybridSequential()
    second.add(nn.Dense(5, activation='relu', in_units=4), nn.Dense(3, in_units=5))
    returned = second.share_parameters(first._collect_params_with_prefix())
    assert returned is second
    for key, p in first._collect_params_with_prefix().items():
        assert second._collect_params_with_prefix()[key] is p
    assert second[0].weight is first[0].weight
    assert set(second.collect_params().keys()) == set(first.collect_params().keys())
    x = nd.array(np.random.RandomState(3).randn(2, 4))
    assert_array_equal(second(x).asnumpy(), first(x).asnumpy())


def test_share_parameters_partial_share_keeps_the_rest():
    first = mlp(seed=0)
    second = nn.HybridSequential()
    second.add(nn.Dense(5, activation='relu', in_units=4), nn.Dense(3, in_units=5))
    own_bias = second[1].bias
    second.share_parameters({'0.weight': first[0].weight})
    assert second[0].weight is first[0].weight
    assert second[1].bias is own_bias and second[1].bias is not first[1].bias


def test_share_parameters_errors_name_keys_and_shapes():
    encoder = nn.Dense(4, in_units=3)
    with pytest.raises(MXNetError) as info:
        nn.Dense(4, in_units=3).share_parameters({'nope.weight': encoder.weight})
    message = str(info.value)
    assert "'nope.weight'" in message and "'weight'" in message and "'bias'" in message

    with pytest.raises(MXNetError) as info:
        nn.Dense(5, in_units=3).share_parameters({'weight': encoder.weight})
    message = str(info.value)
    assert "'weight'" in message and '(5, 3)' in message and '(4, 3)' in message
    assert encoder.weight.name in message


def test_gradients_of_a_weight_used_twice_add_up():
    encoder = nn.Dense(4, in_units=3)
    twin = nn.Dense(4, in_units=3).share_parameters(encoder._collect_params_with_prefix())
    encoder.initialize(mx.init.Normal(1.0))
    x1, x2 = np.array([[1.0, 2.0, 3.0]]), np.array([[-0.5, 4.0, 0.25]])
    with autograd.record():
        y = (encoder(nd.array(x1)) * 2).sum() + twin(nd.array(x2)).sum()
    y.backward()
    # d/dW of sum_j (2 W x1 + W x2)_j = ones(4) outer (2 x1 + x2)
    assert_allclose(encoder.weight.grad().asnumpy(),
                    np.ones((4, 1)) * (2 * x1 + x2), rtol=1e-6)
    assert_allclose(encoder.bias.grad().asnumpy(), np.full(4, 3.0), rtol=1e-6)


def test_trainer_updates_a_shared_parameter_exactly_once():
    encoder = nn.Dense(4, in_units=3)
    twin = nn.Dense(4, in_units=3).share_parameters(encoder._collect_params_with_prefix())
    pair = nn.HybridSequential()
    pair.add(encoder, twin)
    mx.random.seed(0)
    pair.initialize(mx.init.Normal(1.0))
    assert list(pair.collect_params().keys()) == ['dense0_weight', 'dense0_bias']
    w0 = encoder.weight.data().asnumpy().copy()
    b0 = encoder.bias.data().asnumpy().copy()
    x = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=np.float32)
    trainer = gluon.Trainer(pair.collect_params(), 'sgd', {'learning_rate': 0.1})
    with autograd.record():
        y = encoder(nd.array(x)).sum() + twin(nd.array(x)).sum()
    y.backward()
    trainer.step(2)
    grad_w = 2 * np.ones((4, 1)) * x.sum(axis=0)            # two uses, summed over the batch
    grad_b = np.full(4, 2 * 2.0)                            # two uses x two examples
    assert_allclose(encoder.weight.data().asnumpy(), w0 - 0.1 * grad_w / 2, rtol=1e-6)
    assert_allclose(encoder.bias.data().asnumpy(), b0 - 0.1 * grad_b / 2, rtol=1e-6)


# ------------------------------------------------------------------ the chapter's flows

class Classifier(gluon.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.base = nn.HybridSequential()
            self.base.add(nn.Dense(6, activation='relu', in_units=4), nn.Dense(5, in_units=6))
            self.head = nn.Dense(3, in_units=5)

    def hybrid_forward(self, F, x):
        return self.head(self.base(x))


def test_freeze_base_and_lr_mult_on_head():
    mx.random.seed(0)
    net = Classifier()
    net.initialize(mx.init.Normal(1.0))
    net.base.collect_params().setattr('grad_req', 'null')
    net.head.collect_params().setattr('lr_mult', 10)
    base_before = {k: v.copy() for k, v in values(net.base).items()}
    x = nd.array(np.random.RandomState(0).randn(4, 4))
    lr, batch = 0.01, 4
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})

    features = net.base(x).asnumpy()                        # fixed: the base is frozen
    w0 = net.head.weight.data().asnumpy().copy()
    b0 = net.head.bias.data().asnumpy().copy()
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    trainer.step(batch)
    # L = sum(features @ W.T + b): dL/dW = ones(3) outer sum_rows(features), dL/db = batch
    grad_w = np.ones((3, 1)) * features.sum(axis=0)
    plain_w = lr * grad_w / batch
    plain_b = lr * np.full(3, float(batch)) / batch
    assert_allclose(w0 - net.head.weight.data().asnumpy(), 10 * plain_w, rtol=1e-5,
                    atol=1e-6)
    assert_allclose(b0 - net.head.bias.data().asnumpy(), 10 * plain_b, rtol=1e-5)

    for _ in range(3):
        with autograd.record():
            loss = net(x).sum()
        loss.backward()
        trainer.step(batch)
    for key, value in values(net.base).items():
        assert_array_equal(values(net.base)[key], base_before[key])
    with pytest.raises(RuntimeError, match="grad_req is 'null'"):
        net.base[0].weight.grad()


def test_manual_device_averaging_then_update_equals_step():
    contexts = [mx.cpu(0), mx.cpu(1)]
    mx.random.seed(0)
    net = Classifier()
    net.initialize(mx.init.Normal(0.5), ctx=contexts)
    rng = np.random.RandomState(0)
    data, label = rng.randn(8, 4).astype(np.float32), rng.randn(8, 3).astype(np.float32)
    data_parts = gluon.utils.split_and_load(data, contexts)
    label_parts = gluon.utils.split_and_load(label, contexts)
    loss_fn = gluon.loss.L2Loss()
    params = net.collect_params()
    # update() after a hand-made mean: MXNet needs the Trainer to update, not the store
    trainer = gluon.Trainer(params, 'sgd', {'learning_rate': 0.1}, update_on_kvstore=False)

    def forward_backward():
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(data_parts, label_parts)]
        for loss in losses:
            loss.backward()

    start = {k: p.data(mx.cpu(0)).asnumpy().copy() for k, p in params.items()}
    forward_backward()
    per_device = {k: [g.asnumpy().copy() for g in p.list_grad()] for k, p in params.items()}
    assert not np.allclose(*per_device[net.head.weight.name])    # halves differ
    trainer.step(8)                                            # route 1: sum across devices
    after_step = {k: [d.asnumpy().copy() for d in p.list_data()] for k, p in params.items()}
    for k in params.keys():
        expected = start[k] - 0.1 * (per_device[k][0] + per_device[k][1]) / 8
        for copy in after_step[k]:
            assert_allclose(copy, expected, rtol=1e-5, atol=1e-6)

    for k, p in params.items():                                # rewind ...
        p.set_data(nd.array(start[k]))
    forward_backward()                                         # ... same gradients again
    for p in params.values():                                  # route 2: average by hand
        mean = nd.mean(nd.stack(*[g.as_in_context(mx.cpu(0)) for g in p.list_grad()]), axis=0)
        for g in p.list_grad():
            g[:] = mean.as_in_context(g.context)
    trainer.update(8 // len(contexts))
    for k, p in params.items():
        for route1, route2 in zip(after_step[k], p.list_data()):
            assert_allclose(route2.asnumpy(), route1, rtol=1e-5, atol=1e-6)


def test_collect_params_load_strips_exported_arg_aux_prefixes(tmp_path):
    """A file written by HybridBlock.export (as MXNet's) keys its arrays 'arg:...' and
    'aux:...'; ParameterDict.load strips those marks, as MXNet 1.9's does."""
    net = mx.gluon.nn.HybridSequential(prefix='m_')
    with net.name_scope():
        net.add(mx.gluon.nn.Dense(3, in_units=2), mx.gluon.nn.BatchNorm(in_channels=3))
    net.initialize()
    net.hybridize()
    net(mx.nd.ones((4, 2)))
    path = str(tmp_path / 'model')
    net.export(path)
    fresh = mx.gluon.nn.HybridSequential(prefix='m_')
    with fresh.name_scope():
        fresh.add(mx.gluon.nn.Dense(3, in_units=2), mx.gluon.nn.BatchNorm(in_channels=3))
    fresh.collect_params().load(path + '-0000.params')
    for name, p in net.collect_params().items():
        np.testing.assert_array_equal(fresh.collect_params()[name].data().asnumpy(),
                                      p.data().asnumpy())


# --- a file whose names match nothing (the classic name-scope change) -----------------
# MXNet 1.9.1 raises an AssertionError ("Parameter 'other_dense0_weight' is missing in
# file ..., which contains parameters: 'model_dense0_weight', ...") for each of these;
# minimx keeps the class and says that nothing matched, shows a few names of each side,
# and gives the way out, which the tests then take.

def _two_dense(prefix=None):
    net = nn.HybridSequential(prefix=prefix)
    with net.name_scope():
        net.add(nn.Dense(4, in_units=3), nn.Dense(2, in_units=4))
    net.initialize()
    return net


def _refused(load) -> str:
    with pytest.raises(AssertionError) as info:
        load()
    assert isinstance(info.value, MXNetError)
    return ' '.join(str(info.value).split())


def _same_outputs(a, b):
    x = nd.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert_allclose(a(x).asnumpy(), b(x).asnumpy(), rtol=1e-6)


@pytest.mark.parametrize('load', ['collect_params().load', 'load_parameters'])
def test_full_names_under_another_prefix_say_nothing_matched_and_how_to_rename(
        tmp_path, load):
    path = str(tmp_path / 'full.params')
    saved = _two_dense('model_')
    saved.collect_params().save(path)
    net = _two_dense('other_')
    call = (lambda: net.collect_params().load(path)) if load.startswith('collect') \
        else (lambda: net.load_parameters(path))
    text = _refused(call)
    assert 'nothing would be loaded' in text
    assert "['model_dense0_bias', 'model_dense0_weight'," in text      # the file's
    assert "['other_dense0_weight', 'other_dense0_bias'," in text      # the network's
    assert "'model_' in the file and 'other_' here" in text
    fix = "net.collect_params().load_dict({k.replace('model_', 'other_', 1): v"
    assert fix in text
    assert 'allow_missing' not in text            # it would load nothing
    net.collect_params().load_dict({k.replace('model_', 'other_', 1): v
                                    for k, v in nd.load(path).items()})
    _same_outputs(net, saved)


def test_a_file_saved_without_its_prefix_points_to_restore_prefix(tmp_path):
    path = str(tmp_path / 'stripped.params')
    saved = _two_dense('model_')
    saved.collect_params().save(path, strip_prefix='model_')
    net = _two_dense('other_')
    text = _refused(lambda: net.collect_params().load(path))
    assert "lack this network's prefix 'other_': load with restore_prefix='other_'" in text
    net.collect_params().load(path, restore_prefix='other_')
    _same_outputs(net, saved)


def test_load_parameters_of_this_networks_own_full_names(tmp_path):
    path = str(tmp_path / 'own.params')
    net = _two_dense('model_')
    net.collect_params().save(path)
    text = _refused(lambda: net.load_parameters(path))
    assert "holds this network's full names" in text
    assert f"net.collect_params().load({path!r})" in text
    _two_dense('model_').collect_params().load(path)


def test_the_file_of_a_part_names_the_part_to_load_it_into(tmp_path):
    class Wrapper(gluon.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.body = _two_dense()

        def hybrid_forward(self, F, x):
            return self.body(x)

    path = str(tmp_path / 'part.params')
    part = _two_dense()
    part.save_parameters(path)
    whole = Wrapper()
    text = _refused(lambda: whole.load_parameters(path))
    assert 'nothing would be loaded' in text
    assert "['0.bias', '0.weight', '1.bias', '1.weight']" in text
    assert f"net.body.load_parameters({path!r})" in text
    whole.body.load_parameters(path)
    _same_outputs(whole, part)


def test_a_renamed_attribute_is_named_with_the_rename_that_fixes_it(tmp_path):
    class Head(gluon.HybridBlock):
        def __init__(self, attr, **kwargs):
            super().__init__(**kwargs)
            self._attr = attr
            with self.name_scope():
                setattr(self, attr, nn.Dense(2, in_units=3))

        def hybrid_forward(self, F, x):
            return getattr(self, self._attr)(x)

    path, renamed = str(tmp_path / 'head.params'), str(tmp_path / 'renamed.params')
    old = Head('head')
    old.initialize()
    old.save_parameters(path)
    new = Head('classifier')
    text = _refused(lambda: new.load_parameters(path))
    assert "under 'head.' where this network has 'classifier.'" in text
    assert "'classifier.' + k[5:]" in text
    nd.save(renamed, {'classifier.' + k[5:]: v for k, v in nd.load(path).items()})
    new.load_parameters(renamed)
    _same_outputs(new, old)


def test_a_file_of_another_structure_is_told_so(tmp_path):
    path = str(tmp_path / 'other.params')
    _two_dense().save_parameters(path)
    text = _refused(lambda: nn.Dense(3, in_units=7).load_parameters(path))
    assert "nothing would be loaded" in text and 'another structure' in text
    assert "['weight', 'bias']" in text


def test_load_dict_of_names_that_match_nothing_says_so(tmp_path):
    saved = _two_dense('model_')
    arrays = {p.name: p.data() for p in saved.collect_params().values()}
    net = _two_dense('other_')
    text = _refused(lambda: net.collect_params().load_dict(arrays))
    assert text.startswith('ParameterDict.load_dict: nothing in param_dict')
    assert 'nothing would be loaded' in text
    fix = "load_dict({k.replace('model_', 'other_', 1): v for k, v in param_dict.items()})"
    assert fix in text
    net.collect_params().load_dict({k.replace('model_', 'other_', 1): v
                                    for k, v in arrays.items()})
    _same_outputs(net, saved)
