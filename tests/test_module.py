"""mx.mod.Module against MXNet 1.9.1: the same fixed-init training, scores, predictions
and checkpoints, recorded by tests/fixtures/module/make_fixtures.py."""
import functools
import json
import os

import numpy as np
import pytest
from fixtures.module import networks

import minimx as mx

pytestmark = pytest.mark.ch12

mlp = functools.partial(networks.mlp, mx.sym)
convnet = functools.partial(networks.convnet, mx.sym)
regression = functools.partial(networks.regression, mx.sym)

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'module')
REF = np.load(os.path.join(HERE, 'module.npz'))
REC = json.load(open(os.path.join(HERE, 'module.json')))








def initial(name):
    args = {k[len(name) + 10:]: mx.nd.array(REF[k]) for k in REF.files
            if k.startswith(f'{name}_init_arg_')}
    aux = {k[len(name) + 10:]: mx.nd.array(REF[k]) for k in REF.files
           if k.startswith(f'{name}_init_aux_')}
    return args, aux


def train(name, sym, x, y, label_name='softmax_label', context=None):
    rec = REC[name]
    args, aux = initial(name)
    it = mx.io.NDArrayIter(x, y, rec['batch'], label_name=label_name)
    mod = mx.mod.Module(sym, label_names=(label_name,),
                        context=context if context is not None else mx.cpu())
    history = networks.fit_recording(
        mod, it, eval_metric=rec['metric'], optimizer=rec['optimizer'],
        optimizer_params=rec['optimizer_params'], arg_params=args, aux_params=aux,
        num_epoch=rec['epochs'])
    return mod, np.array(history)


def assert_params(mod, name, rtol=1e-5, atol=1e-6):
    arg, aux = mod.get_params()
    want = {k[len(name) + 5:] for k in REF.files if k.startswith(f'{name}_arg_')}
    assert set(arg) == want
    for k, v in arg.items():
        np.testing.assert_allclose(v.asnumpy(), REF[f'{name}_arg_{k}'], rtol=rtol,
                                   atol=atol, err_msg=k)
    for k, v in aux.items():
        np.testing.assert_allclose(v.asnumpy(), REF[f'{name}_aux_{k}'], rtol=rtol,
                                   atol=atol, err_msg=k)


@pytest.fixture(scope='module')
def trained_mlp():
    return train('mlp', mlp(), REF['mlp_x'], REF['mlp_y'])


def test_mlp_fit_matches_mxnet(trained_mlp):
    mod, history = trained_mlp
    assert_params(mod, 'mlp')
    np.testing.assert_allclose(history, REF['mlp_history'], atol=1e-6)


def test_mlp_names_and_shapes(trained_mlp):
    mod, _ = trained_mlp
    rec = REC['mlp']
    assert mod.data_names == rec['data_names']
    assert mod.label_names == rec['label_names']
    assert mod.output_names == rec['output_names']
    assert [[n, list(s)] for n, s in mod.output_shapes] == rec['output_shapes']
    assert [(d.name, d.shape) for d in mod.data_shapes] == [('data', (8, 10))]


def test_score_and_predict_with_padding(trained_mlp):
    mod, _ = trained_mlp
    rec = REC['mlp']
    test = mx.io.NDArrayIter(REF['mlp_xt'], REF['mlp_yt'], 8)
    for got, key in [(mod.score(test, 'acc'), 'score_acc'),
                     (mod.score(test, ['acc', 'ce', 'mse']), 'score_multi'),
                     (mod.score(test, 'acc', num_batch=2), 'score_num_batch')]:
        assert [n for n, _ in got] == [n for n, _ in rec[key]]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in rec[key]],
                                   rtol=1e-5)
    out = mod.predict(test)
    assert out.shape == (21, 3)                 # 24 rows ran, the 3 padded dropped
    np.testing.assert_allclose(out.asnumpy(), REF['mlp_predict'], rtol=1e-5, atol=1e-6)
    parts = mod.predict(test, merge_batches=False)
    assert [[list(o.shape) for o in p] for p in parts] == rec['predict_unmerged_shapes']
    one = mod.predict(mx.nd.array(REF['mlp_xt'][:8]))
    np.testing.assert_allclose(one.asnumpy(), REF['mlp_predict_array'], rtol=1e-5,
                               atol=1e-6)
    outs = [o for o, _, _ in mod.iter_predict(test)]
    np.testing.assert_allclose(np.concatenate([o[0].asnumpy() for o in outs]),
                               REF['mlp_predict'], rtol=1e-5, atol=1e-6)


def test_input_grads(trained_mlp):
    mod, _ = trained_mlp
    m2 = mx.mod.Module(mlp())
    m2.bind([('data', (8, 10))], [('softmax_label', (8,))], inputs_need_grad=True)
    m2.set_params(*mod.get_params())
    m2.forward(mx.io.DataBatch([mx.nd.array(REF['mlp_xt'][:8])],
                               [mx.nd.array(REF['mlp_yt'][:8])]), is_train=True)
    m2.backward()
    np.testing.assert_allclose(m2.get_input_grads()[0].asnumpy(), REF['mlp_input_grad'],
                               rtol=1e-4, atol=1e-6)


def test_two_contexts_split_the_batch():
    mod, history = train('mlp2', mlp(), REF['mlp_x'], REF['mlp_y'],
                         context=[mx.cpu(0), mx.cpu(1)])
    assert_params(mod, 'mlp2')
    np.testing.assert_allclose(history, REF['mlp2_history'], atol=1e-6)
    outs = mod.get_outputs(merge_multi_context=False)
    assert [o.shape for o in outs[0]] == [(4, 3), (4, 3)]
    assert [o.context for o in outs[0]] == [mx.cpu(0), mx.cpu(1)]


def test_convnet_batchnorm_adam_matches_mxnet():
    mod, history = train('conv', convnet(), REF['conv_x'], REF['conv_y'])
    assert_params(mod, 'conv', rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(history, REF['conv_history'], atol=1e-6)
    out = mod.predict(mx.io.NDArrayIter(REF['conv_x'], REF['conv_y'], 10))
    np.testing.assert_allclose(out.asnumpy(), REF['conv_predict'], rtol=1e-4,
                               atol=1e-5)


def test_regression_and_several_metrics():
    mod, history = train('reg', regression(), REF['reg_x'], REF['reg_y'],
                         label_name='lin_label')
    assert_params(mod, 'reg')
    np.testing.assert_allclose(history, REF['reg_history'], rtol=1e-5)
    it = mx.io.NDArrayIter(REF['reg_x'], REF['reg_y'], 6, label_name='lin_label')
    got = mod.score(it, ['mse', 'mae', 'rmse'])
    assert [n for n, _ in got] == [n for n, _ in REC['reg']['score']]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in REC['reg']['score']],
                               rtol=1e-5)


@pytest.mark.parametrize('key', ['plain', 'batch', 'scale', 'ignore', 'valid'])
def test_softmax_output_gradients_match_mxnet(key):
    kw = REC['softmax_cases'][key]
    s = mx.sym.SoftmaxOutput(mx.sym.Variable('x'), name='sm', **kw)
    e = s.simple_bind(mx.cpu(), x=(4, 3))
    e.forward(is_train=True, x=mx.nd.array(REF['smx_logits']),
              sm_label=mx.nd.array(REF['smx_labels']))
    e.backward()
    np.testing.assert_allclose(e.grad_dict['x'].asnumpy(), REF[f'smx_{key}'],
                               rtol=1e-5, atol=1e-7)


def test_softmax_output_multi_output_matches_mxnet():
    s = mx.sym.SoftmaxOutput(mx.sym.Variable('x'), name='sm', multi_output=True)
    e = s.simple_bind(mx.cpu(), x=(2, 3, 4))
    e.forward(is_train=True, x=mx.nd.array(REF['smx_multi_x']),
              sm_label=mx.nd.array(REF['smx_multi_label']))
    e.backward()
    np.testing.assert_allclose(e.outputs[0].asnumpy(), REF['smx_multi_out'], rtol=1e-5)
    np.testing.assert_allclose(e.grad_dict['x'].asnumpy(), REF['smx_multi_grad'],
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('name,epoch,symbol', [('mlp', 3, mlp), ('conv', 2, convnet)])
def test_mxnet_checkpoint_loads_and_predicts(name, epoch, symbol):
    mod = mx.mod.Module.load(os.path.join(HERE, name), epoch)
    assert mod.params_initialized and not mod.binded
    x = REF[f'{name}_x'][:8]
    mod.bind([('data', x.shape)], for_training=False)
    got = mod.predict(mx.nd.array(x)).asnumpy()
    ref = mx.mod.Module(symbol())
    ref.bind([('data', x.shape)], for_training=False)
    arg = {k[len(name) + 5:]: mx.nd.array(REF[k]) for k in REF.files
           if k.startswith(f'{name}_arg_')}
    aux = {k[len(name) + 5:]: mx.nd.array(REF[k]) for k in REF.files
           if k.startswith(f'{name}_aux_')}
    ref.set_params(arg, aux)
    np.testing.assert_allclose(got, ref.predict(mx.nd.array(x)).asnumpy(), rtol=1e-6)
    if name == 'mlp':
        test = mx.io.NDArrayIter(REF['mlp_xt'], REF['mlp_yt'], 8)
        mod.bind([('data', (8, 10))], [('softmax_label', (8,))], force_rebind=True,
                 for_training=False)
        np.testing.assert_allclose(mod.predict(test).asnumpy(), REF['mlp_predict'],
                                   rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip_with_optimizer_states(tmp_path, trained_mlp):
    mod, _ = trained_mlp
    prefix = str(tmp_path / 'mlp')
    mod.save_checkpoint(prefix, 3, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ['mlp-0003.params', 'mlp-0003.states',
                                            'mlp-symbol.json']
    back = mx.mod.Module.load(prefix, 3, load_optimizer_states=True)
    it = mx.io.NDArrayIter(REF['mlp_x'], REF['mlp_y'], 8)
    back.bind(it.provide_data, it.provide_label)
    back.init_optimizer(optimizer='sgd', optimizer_params=REC['mlp']['optimizer_params'])
    for k, v in back.get_params()[0].items():
        np.testing.assert_array_equal(v.asnumpy(), mod.get_params()[0][k].asnumpy())
    for i, state in mod._updater.states.items():     # the momentum came back
        np.testing.assert_array_equal(back._updater.states[i].asnumpy(),
                                      state.asnumpy())
    # one more step from both gives the same weights
    batch = next(iter(it))
    for m in (mod, back):
        m.forward_backward(batch)
        m.update()
    for k, v in back.get_params()[0].items():
        np.testing.assert_allclose(v.asnumpy(), mod.get_params()[0][k].asnumpy(),
                                   rtol=1e-6)


def test_a_minimx_checkpoint_is_mxnets_format(tmp_path, trained_mlp):
    mod, _ = trained_mlp
    prefix = str(tmp_path / 'm')
    mod.save_checkpoint(prefix, 1)
    from minimx.ndarray import mxnet_file
    assert mxnet_file.is_mxnet_file(f'{prefix}-0001.params')
    sym, arg, aux = mx.model.load_checkpoint(prefix, 1)
    assert sym.list_arguments() == mlp().list_arguments()
    assert sorted(arg) == ['fc1_bias', 'fc1_weight', 'fc2_bias', 'fc2_weight']


def test_steps_out_of_order_raise_assertion_errors():
    mod = mx.mod.Module(mlp())
    batch = mx.io.DataBatch([mx.nd.ones((8, 10))], [mx.nd.zeros((8,))])
    with pytest.raises(AssertionError, match=r'call bind\(data_shapes'):
        mod.forward(batch)
    with pytest.raises(AssertionError, match='bind'):
        mod.init_params()
    mod.bind([('data', (8, 10))], [('softmax_label', (8,))])
    with pytest.raises(AssertionError, match=r'init_params\(\)'):
        mod.forward(batch)
    with pytest.raises(AssertionError, match=r'init_params\(\)'):
        mod.score(mx.io.NDArrayIter(np.ones((8, 10)), np.zeros(8), 8), 'acc')
    mod.init_params()
    with pytest.raises(AssertionError, match=r'init_optimizer\(\)'):
        mod.update()
    with pytest.raises(AssertionError, match='inputs_need_grad'):
        mod.get_input_grads()


def test_wrong_names_and_shapes_are_clear():
    with pytest.raises(ValueError, match="no input named 'x'"):
        mx.mod.Module(mlp(), data_names=('x',))
    with pytest.warns(UserWarning, match="label_names"):
        mx.mod.Module(mlp(), label_names=('y',))
    mod = mx.mod.Module(mlp())
    with pytest.raises(ValueError, match='do not match'):
        mod.bind([('images', (8, 10))])
    mod.bind([('data', (8, 12))], [('softmax_label', (8,))])
    args, _ = initial('mlp')
    with pytest.raises(mx.MXNetError, match=r"fc1_weight.*\(16, 10\).*\(16, 12\)"):
        mod.init_params(arg_params=args)
    with pytest.raises(RuntimeError, match='allow_missing'):
        mod.init_params(arg_params={'fc1_weight': mx.nd.zeros((16, 12))})
    with pytest.raises(AssertionError, match='num_epoch'):
        mod.fit(mx.io.NDArrayIter(np.ones((8, 12)), np.zeros(8), 8))


def test_forward_reshapes_for_a_new_batch_size():
    mod = mx.mod.Module(mlp())
    mod.bind([('data', (8, 10))], [('softmax_label', (8,))])
    args, _ = initial('mlp')
    mod.init_params(arg_params=args)
    x = REF['mlp_xt'][:5]
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros((5,))]), is_train=False)
    assert mod.get_outputs()[0].shape == (5, 3)
    assert mod.data_shapes[0].shape == (5, 10)
    h = np.maximum(x @ REF['mlp_init_arg_fc1_weight'].T + REF['mlp_init_arg_fc1_bias'], 0)
    z = h @ REF['mlp_init_arg_fc2_weight'].T + REF['mlp_init_arg_fc2_bias']
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), p / p.sum(1, keepdims=True),
                               rtol=1e-5)
    with pytest.raises(mx.MXNetError, match=r'cannot take them'):
        mod.forward(mx.io.DataBatch([mx.nd.ones((5, 7))], None), is_train=False)


def test_fixed_params_and_bias_without_weight_decay():
    mod = mx.mod.Module(mlp(), fixed_param_names=['fc1_weight'])
    it = mx.io.NDArrayIter(REF['mlp_x'], REF['mlp_y'], 10)
    args, _ = initial('mlp')
    mod.fit(it, num_epoch=1, arg_params=args, optimizer_params={'learning_rate': 0.0,
                                                                  'wd': 0.5})
    arg, _ = mod.get_params()
    np.testing.assert_array_equal(arg['fc1_weight'].asnumpy(),
                                  REF['mlp_init_arg_fc1_weight'])
    # lr 0: nothing moves; now lr 1, zero gradients (labels agree?) aside: wd shrinks
    # weights by (1 - lr*wd) per step but leaves the biases alone
    mod2 = mx.mod.Module(mlp())
    mod2.bind([('data', (10, 10))], [('softmax_label', (10,))])
    mod2.init_params(arg_params=args)
    mod2.init_optimizer(optimizer_params={'learning_rate': 0.1, 'wd': 0.5})
    for d in mod2._exec_group.grad_arrays:
        for g in d:
            g[:] = 0
    mod2.update()
    arg, _ = mod2.get_params()
    np.testing.assert_allclose(arg['fc2_weight'].asnumpy(),
                               REF['mlp_init_arg_fc2_weight'] * (1 - 0.1 * 0.5),
                               rtol=1e-6)
    np.testing.assert_array_equal(arg['fc2_bias'].asnumpy(),
                                  REF['mlp_init_arg_fc2_bias'])


def sym_gen(seq_len):
    x = mx.sym.Variable('data')
    h = mx.sym.mean(x, axis=1, name='avg')
    h = mx.sym.FullyConnected(h, num_hidden=3, name='fc')
    return mx.sym.SoftmaxOutput(h, name='softmax'), ('data',), ('softmax_label',)


class ListIter:
    def __init__(self, batches):
        self.batches = batches
        self.provide_data = batches[0].provide_data
        self.provide_label = batches[0].provide_label

    def __iter__(self):
        return iter(self.batches)

    def reset(self):
        pass


def bucket_batches():
    batches = []
    for i in range(5):
        x, y = REF[f'bucket_x{i}'], REF[f'bucket_y{i}']
        batches.append(mx.io.DataBatch(
            [mx.nd.array(x)], [mx.nd.array(y)], pad=0, bucket_key=x.shape[1],
            provide_data=[mx.io.DataDesc('data', x.shape)],
            provide_label=[mx.io.DataDesc('softmax_label', y.shape)]))
    return batches


@pytest.fixture(scope='module')
def trained_buckets():
    args, _ = initial('bucket')
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=5)
    history = networks.fit_recording(
        mod, ListIter(bucket_batches()), eval_metric='acc', optimizer='sgd',
        optimizer_params={'learning_rate': 0.5, 'momentum': 0.9}, arg_params=args,
        num_epoch=2)
    return mod, np.array(history)


def test_bucketing_module_matches_mxnet(trained_buckets):
    mod, history = trained_buckets
    assert sorted(mod._buckets) == REC['bucket']['buckets']
    assert_params(mod, 'bucket')
    np.testing.assert_allclose(history, REF['bucket_history'], atol=1e-6)
    weights = [m._exec_group.param_arrays[0][0] for m in mod._buckets.values()]
    assert all(w is weights[0] for w in weights)            # one set of parameters


def test_bucketing_checkpoint_round_trip(tmp_path, trained_buckets):
    mod, _ = trained_buckets
    prefix = str(tmp_path / 'b')
    mod.save_checkpoint(prefix, 2)
    names = sorted(os.listdir(tmp_path))
    assert names == ['b-0002.params', 'b-3-symbol.json', 'b-4-symbol.json',
                     'b-5-symbol.json', 'b.buckets']
    back = mx.mod.BucketingModule.load(prefix, 2, sym_gen=sym_gen, default_bucket_key=5)
    back.bind([('data', (6, 5, 4))], [('softmax_label', (6,))], for_training=False)
    batch = bucket_batches()[1]                              # a bucket of length 3
    for m in (mod, back):
        m.forward(batch, is_train=False)
    np.testing.assert_allclose(back.get_outputs()[0].asnumpy(),
                               mod.get_outputs()[0].asnumpy(), rtol=1e-6)


@pytest.mark.parametrize('name', ['seq', 'pyloss'])
def test_sequential_module_matches_mxnet(name):
    seq = networks.sequential(mx, python_loss=name == 'pyloss')
    args, _ = initial('mlp')
    history = networks.fit_recording(
        seq, mx.io.NDArrayIter(REF['mlp_x'], REF['mlp_y'], 10), eval_metric='acc',
        optimizer='sgd', optimizer_params={'learning_rate': 0.1, 'momentum': 0.9},
        arg_params=args, num_epoch=2)
    assert_params(seq, name)
    np.testing.assert_allclose(history, REF[f'{name}_history'], atol=1e-6)
    assert seq.output_names == REC[name]['output_names']
    assert [[n, list(s)] for n, s in seq.output_shapes] == REC[name]['output_shapes']
    with pytest.raises(AssertionError, match='unknown option'):
        seq.add(mx.mod.Module(networks.mlp_trunk(mx.sym), label_names=None),
                take_label=True)


def test_callbacks(tmp_path, caplog, trained_mlp):
    import logging
    mod, _ = trained_mlp
    arg, aux = mod.get_params()
    save = mx.callback.do_checkpoint(str(tmp_path / 'cb'), period=2)
    for epoch in range(4):
        save(epoch, mod.symbol, arg, aux)
    assert sorted(os.listdir(tmp_path)) == ['cb-0002.params', 'cb-0004.params',
                                            'cb-symbol.json']
    metric = mx.metric.create('acc')
    metric.update([mx.nd.array([0, 1])], [mx.nd.array([[1, 0], [1, 0]])])
    param = mx.model.BatchEndParam(epoch=1, nbatch=4, eval_metric=metric, locals=None)
    with caplog.at_level(logging.INFO):
        mx.callback.log_train_metric(2)(param)
    assert 'Iter[1] Batch[4] Train-accuracy=0.500000' in caplog.text
    speed = mx.callback.Speedometer(batch_size=2, frequent=2)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for n in range(5):
            speed(mx.model.BatchEndParam(0, n, metric, None))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith('Epoch[0] Batch [0-2]\tSpeed: ')
    assert lines[0].endswith('accuracy=0.500000')
    assert metric.get()[1] != metric.get()[1]           # auto_reset: local stats gone
    assert metric.get_global()[1] == 0.5


def test_argument_checks_raise_mxnets_assertion_errors():
    with pytest.raises(AssertionError, match='for_training'):
        mx.mod.Module(mlp()).bind([('data', (8, 10))], for_training=False,
                                  inputs_need_grad=True)
    with pytest.raises(AssertionError, match='work_load_list'):
        mx.mod.Module(mlp(), context=[mx.cpu(0)], work_load_list=[1, 2])
    with pytest.raises(AssertionError, match='default_bucket_key'):
        mx.mod.BucketingModule(sym_gen)
    loss = mx.mod.PythonLossModule(grad_func=lambda s, l: s)
    loss.bind([('data', (4, 3))], [('softmax_label', (4,))])
    with pytest.raises(AssertionError, match='out_grads'):
        loss.backward(out_grads=[mx.nd.ones((4, 3))])
    with pytest.raises(ValueError, match='cannot be split'):
        mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1)]).bind(
            [('data', (1, 10))], [('softmax_label', (1,))])
