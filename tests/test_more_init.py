"""Appendix (more training pieces): initializer equality and dumps, Bilinear, LSTMBias,
Mixed, Load, InitDesc, alias, and gluon.Constant with ParameterDict.get_constant.

Values marked "MXNet 1.9.1" were computed with mxnet==1.9.1.
"""

import json
import logging

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module

pytestmark = pytest.mark.appendix

I = mx.init


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


def test_equal_initializers_compare_equal():
    # MXNet 1.9.1: True False True
    assert I.Constant(-10.0) == I.Constant(-10.0)
    assert I.Constant(-10.0) != I.Constant(-1.0)
    assert I.Xavier() == I.Xavier(magnitude=3)
    assert I.Uniform(0.1) != I.Normal(0.1)
    assert I.Constant(nd.ones(2)) == I.Constant(nd.ones(2))
    assert I.Constant(nd.ones(2)) != I.Constant(nd.zeros(2))
    assert (I.Zero() == 0) is False
    assert len({I.Constant(1.0), I.Constant(1.0), I.One()}) == 2     # hashable


def test_sharing_a_parameter_with_an_equal_initializer():
    shared = gluon.ParameterDict('net_')
    first = shared.get('bias', shape=(2,), init=I.Constant(-10.0))
    assert shared.get('bias', shape=(2,), init=I.Constant(-10.0)) is first
    with pytest.raises(MXNetError, match='init'):
        shared.get('bias', shape=(2,), init=I.Constant(3.0))


def test_dumps_as_mxnet():
    # MXNet 1.9.1
    assert I.Constant(nd.ones(2)).dumps() == '["constant", {"value": [1.0, 1.0]}]'
    assert I.Constant(3).dumps() == '["constant", {"value": 3}]'
    assert I.Bilinear().dumps() == '["bilinear", {}]'
    assert I.LSTMBias().dumps() == '["lstmbias", {"forget_bias": 1.0}]'
    dumped = json.loads(I.Constant(np.arange(3)).dumps())
    assert dumped == ['constant', {'value': [0, 1, 2]}]


def test_bilinear_matches_mxnet():
    arr = nd.zeros((2, 1, 4, 4))
    I.Bilinear()._init_weight('up_weight', arr)
    row = np.array([0.25, 0.75, 0.75, 0.25])
    assert_allclose(arr.asnumpy(), np.broadcast_to(np.outer(row, row), (2, 1, 4, 4)))
    arr = nd.zeros((1, 1, 3, 3))
    I.Bilinear()._init_weight('up_weight', arr)
    # MXNet 1.9.1 (odd sizes are not symmetric there either)
    assert_allclose(arr.asnumpy()[0, 0], [[0.0625, 0.1875, 0.1875],
                                          [0.1875, 0.5625, 0.5625],
                                          [0.1875, 0.5625, 0.5625]])
    with pytest.raises(MXNetError, match='4-D'):
        I.Bilinear()._init_weight('w', nd.zeros((3, 3)))


def test_lstm_bias():
    arr = nd.ones((8,))
    I.LSTMBias(2.5)._init_weight('i2h_bias', arr)
    assert arr.asnumpy().tolist() == [0, 0, 2.5, 2.5, 0, 0, 0, 0]     # MXNet 1.9.1
    params = gluon.ParameterDict('lstm_')
    bias = params.get('i2h_bias', shape=(12,), init=I.LSTMBias())
    params.initialize(I.Uniform())
    assert bias.data().asnumpy().tolist() == [0] * 3 + [1] * 3 + [0] * 6
    assert I.create('lstmbias') == I.LSTMBias()


def test_mixed_picks_the_first_matching_pattern():
    params = gluon.ParameterDict('net_')
    params.get('h2h_weight', shape=(2, 2))
    params.get('i2h_weight', shape=(2, 2))
    params.get('i2h_bias', shape=(2,))
    params.initialize(I.Mixed(['.*h2h', '.*'], [I.Constant(5.0), 'ones']))
    values = {k: p.data().asnumpy() for k, p in params.items()}
    assert np.all(values['net_h2h_weight'] == 5)
    assert np.all(values['net_i2h_weight'] == 1)
    assert np.all(values['net_i2h_bias'] == 0)        # the chosen init's bias rule
    with pytest.raises(MXNetError, match='matches none'):
        I.Mixed(['.*weight'], [I.One()])('b_bias', nd.zeros(2))
    with pytest.raises(MXNetError, match='patterns'):
        I.Mixed(['a', 'b'], [I.One()])


def test_load_from_file_and_dict(tmp_path, caplog):
    path = str(tmp_path / 'values.params')
    nd.save(path, {'arg:net_weight': nd.array([[1.0, 2.0]]),
                   'aux:net_mean': nd.ones(2)})
    init = I.Load(path, default_init=I.Constant(7.0), verbose=True)
    assert sorted(init.param) == ['net_mean', 'net_weight']
    params = gluon.ParameterDict('net_')
    params.get('weight', shape=(1, 2))
    params.get('other_weight', shape=(2,))
    with caplog.at_level(logging.INFO):
        params.initialize(init)
    assert params['net_weight'].data().asnumpy().tolist() == [[1.0, 2.0]]
    assert params['net_other_weight'].data().asnumpy().tolist() == [7.0, 7.0]
    assert 'by loading' in caplog.text and 'by default' in caplog.text
    arr = nd.zeros((3,))
    with pytest.raises(MXNetError, match='shape'):
        I.Load({'w': nd.ones(2)})('w', arr)
    with pytest.raises(MXNetError, match='default_init'):
        I.Load({'w': nd.ones(2)})('v', arr)


def test_init_desc_and_alias():
    desc = I.InitDesc('fc_weight', attrs={'lr_mult': '2'})
    assert desc == 'fc_weight' and desc.attrs == {'lr_mult': '2'}
    arr = nd.zeros((2, 2))
    I.Constant(3.0)(desc, arr)
    assert np.all(arr.asnumpy() == 3)

    @I.alias('twos')
    class Two(I.Initializer):
        def _init_weight(self, name, arr):
            arr[:] = 2.0

    try:
        assert isinstance(I.create('TWOS'), Two)
    finally:
        I._REGISTRY.pop('twos')


# ------------------------------------------------------------------------- Constant

class AddConstant(gluon.HybridBlock):
    """MXNet 1.9.1's own test: a block adding a constant that the Trainer must leave."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.value = np.asarray([[1, 2], [3, 4]])
        self.const = self.params.get_constant('const', self.value)

    def hybrid_forward(self, F, x, const):
        return x + const


def test_constant_survives_training():
    block = AddConstant()
    block.initialize()
    trainer = gluon.Trainer(block.collect_params(), 'sgd',
                            {'learning_rate': 1.0, 'momentum': 0.5})
    x = nd.ones((2, 2))
    x.attach_grad()
    with autograd.record():
        y = block(x)
    y.backward()
    trainer.step(1)
    assert (block.const.data().asnumpy() == block.value).all()
    assert (x.grad.asnumpy() == 1).all()
    assert_allclose(y.asnumpy(), [[2, 3], [4, 5]])
    assert block.const.dtype == np.float32          # MXNet 1.9.1: float32
    assert repr(block.const).startswith('Constant addconstant0_const (shape=(2, 2)')
    assert block.params.get_constant('const') is block.const
    assert block.params.get_constant('const', nd.array([[1, 2], [3, 4]])) is block.const


def test_constant_grad_req_is_always_null():
    const = gluon.Constant('c', [1.0, 2.0])
    assert const.grad_req == 'null'
    with pytest.warns(UserWarning, match='grad_req'):
        const.grad_req = 'write'
    assert const.grad_req == 'null'
    const.initialize()
    assert const.data().grad is None


def test_get_constant_errors():
    params = gluon.ParameterDict('p_')
    with pytest.raises(KeyError, match="No constant named 'p_c'"):
        params.get_constant('c')
    params.get_constant('c', [1.0, 2.0])
    with pytest.raises(MXNetError, match='does not match'):
        params.get_constant('c', [1.0, 3.0])
    params.get('w', shape=(2,))
    with pytest.raises(MXNetError, match='not a constant'):
        params.get_constant('w', [0.0, 0.0])


def test_constant_saves_and_loads(tmp_path):
    block = AddConstant()
    block.initialize()
    path = str(tmp_path / 'block.params')
    block.save_parameters(path)
    again = AddConstant()
    again.load_parameters(path)
    assert (again.const.data().asnumpy() == block.value).all()
