"""Chapter 14 (issue 14, section 2): messages that misled, tried as a user would.
Each test states what the message must say. The code lives in the chapter that owns
it: ParameterDict.load, Parameter.data and set_data in Chapter 5, Block.load_parameters
and split_data in Chapter 8, the Trainer in Chapter 7, the dispatcher's warning filter
in Chapter 2."""

import os
import subprocess
import sys

import pytest

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn
from minimx.gluon.parameter import DeferredInitializationError

pytestmark = pytest.mark.ch14

MINIMX_DIR = os.path.dirname(os.path.abspath(mx.__file__)) + os.sep


def mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(4, in_units=3), nn.Dense(2, in_units=4))
    net.initialize()
    return net


def flat(err) -> str:
    return ' '.join(str(err).split())


def test_collect_params_load_of_a_save_parameters_file(tmp_path):
    file = str(tmp_path / 'net.params')
    mlp().save_parameters(file)
    net = mlp()
    with pytest.raises(MXNetError) as info:
        net.collect_params().load(file)
    text = flat(info.value)
    assert 'structural' in text and 'load_parameters' in text
    assert 'prefix' not in text                     # the prefix is not the problem
    # following the old advice loads nothing: that must not pass in silence either
    with pytest.raises(MXNetError, match='matched|nothing'):
        net.collect_params().load(file, allow_missing=True, ignore_extra=True)


def test_sub_block_loading_a_whole_model_file(tmp_path):
    file = str(tmp_path / 'net.params')
    net = mlp()
    net.save_parameters(file)
    with pytest.raises(MXNetError) as info:
        net[0].load_parameters(file)
    text = flat(info.value)
    assert "'0.'" in text                           # where the file has them
    assert 'whole network' in text or 'strip' in text
    assert 'allow_missing' not in text              # which would load nothing


def test_grad_without_context_on_two_contexts():
    net = nn.Dense(1, in_units=2)
    net.initialize(ctx=[mx.cpu(1), mx.cpu(2)])
    with pytest.raises(RuntimeError) as info:
        net.weight.grad()
    text = flat(info.value)
    assert 'reset_ctx' not in text                  # would undo the two-device setup
    assert 'list_grad()' in text and 'grad(cpu(1))' in text


def test_set_data_inside_record():
    net = nn.Dense(2, in_units=3)
    net.initialize()
    with autograd.record():
        with pytest.raises(MXNetError) as info:
            net.bias.set_data(nd.zeros(2))
    text = flat(info.value)
    assert f"Parameter '{net.bias.name}'.set_data()" in text
    assert 'autograd.pause()' in text


def test_step_with_a_layer_no_forward_pass_reached():
    class TwoHeads(gluon.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.a = nn.Dense(2, use_bias=False)
                self.b = nn.Dense(2, use_bias=False)

        def forward(self, x):
            return self.a(x)                        # b is never reached

    net = TwoHeads()
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    with autograd.record():
        loss = net(nd.ones((1, 3))).sum()
    loss.backward()
    with pytest.raises(DeferredInitializationError) as info:
        trainer.step(1)
    text = flat(info.value)
    assert net.b.weight.name in text
    assert 'forward pass' in text and 'never reached' in text
    assert 'Trainer' in text                        # leave it out of the Trainer


def test_split_and_load_with_fewer_rows_than_devices():
    with pytest.raises(MXNetError) as info:
        gluon.utils.split_and_load(nd.ones((2, 3)), [mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    text = flat(info.value)
    assert "last_batch='discard'" in text and "'rollover'" in text
    assert 'fewer contexts' in text


def test_runtime_warnings_do_not_point_into_minimx():
    # A fresh process, as a user runs a program: pytest imports minimx inside its own
    # catch_warnings, which would drop any filter minimx sets when imported.
    code = ("import minimx as mx\n"
            "from minimx import nd\n"
            "nd.log(nd.zeros(2)); nd.exp(nd.array([100.0]))\n")
    run = subprocess.run([sys.executable, '-W', 'default', '-c', code],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert MINIMX_DIR not in run.stderr, run.stderr


def test_trainer_over_no_parameters():
    net = nn.Sequential()
    net.add(nn.Dense(2, in_units=3))
    net.initialize()
    with pytest.raises(MXNetError, match=r'collect_params\(\)'):
        gluon.Trainer(net.params, 'sgd')


def test_collect_params_load_after_a_prefix_change(tmp_path):
    # full names of another network: not structural, and allow_missing would load nothing
    file = str(tmp_path / 'full.params')
    mlp().collect_params().save(file)
    net = mlp()
    with pytest.raises(MXNetError) as info:
        net.collect_params().load(file, allow_missing=True, ignore_extra=True)
    text = flat(info.value)
    assert 'nothing would be loaded' in text
    assert 'strip_prefix' in text and 'restore_prefix' in text
    assert 'allow_missing' not in text
    # a partial match stays a plain "missing" error, with allow_missing as the way out
    saved = mlp()
    saved.collect_params().save(file, strip_prefix=saved.prefix)
    nd.save(file, {k: v for k, v in nd.load(file).items() if k.startswith('dense0')})
    part = mlp()
    with pytest.raises(MXNetError, match='missing.*allow_missing=True'):
        part.collect_params().load(file, restore_prefix=part.prefix)
    part.collect_params().load(file, restore_prefix=part.prefix, allow_missing=True)


def test_sub_block_load_names_the_prefix_whose_shapes_fit(tmp_path):
    file = str(tmp_path / 'net.params')
    net = mlp()
    net.save_parameters(file)
    with pytest.raises(MXNetError) as info:
        net[1].load_parameters(file)               # Dense(2, in_units=4): only '1.' fits
    text = flat(info.value)
    assert "under the prefix '1.'" in text and "'0.'" not in text
    # with both flags, a load that matches nothing is still refused
    with pytest.raises(MXNetError, match="under the prefix '0.'"):
        net[0].load_parameters(file, allow_missing=True, ignore_extra=True)
    other = nn.Dense(3, in_units=2)                 # 'weight' is in the file under
    other.initialize()                              # '0.' and '1.', of other shapes
    with pytest.raises(MXNetError) as info:
        other.load_parameters(file, allow_missing=True, ignore_extra=True)
    assert 'nothing would be loaded' in flat(info.value)
    assert 'allow_missing' not in flat(info.value)
    # a file of the part alone loads into the part
    net[0].save_parameters(file)
    mlp()[0].load_parameters(file)


def test_data_on_a_context_it_is_not_on_keeps_its_message():
    net = nn.Dense(1, in_units=2)
    net.initialize(ctx=[mx.cpu(1), mx.cpu(2)])
    with pytest.raises(RuntimeError, match=r'not initialized on context cpu\(3\)'):
        net.weight.data(mx.cpu(3))                  # a context asked for: another fix
    with mx.cpu(2):
        assert net.weight.data().context == mx.cpu(2)   # the current context's copy


def test_set_data_inside_pause_and_before_initialization():
    net = nn.Dense(2, in_units=3)
    net.initialize()
    with autograd.record():
        with autograd.pause():
            net.bias.set_data(nd.ones(2))
    assert net.bias.data().asnumpy().tolist() == [1.0, 1.0]
    lazy = nn.Dense(2)
    lazy.initialize()
    with autograd.record():                         # deferred: set_data initializes it
        lazy.weight.set_data(nd.ones((2, 3)))
    assert lazy.weight.shape == (2, 3)


def test_step_before_any_forward_pass_keeps_the_deferred_message():
    net = nn.Dense(2, use_bias=False)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd')
    with pytest.raises(DeferredInitializationError) as info:
        trainer.step(1)
    assert 'never reached' not in str(info.value)
    assert 'first forward pass' in flat(info.value)
