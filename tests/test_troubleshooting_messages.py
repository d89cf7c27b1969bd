"""Chapter 12 (issue 14, section 2): messages that still mislead, tried as a user
would. Each test states what the message must say; each is expected to fail until
the change in the chapter that owns the code lands (the reason names it)."""

import os
import subprocess
import sys

import pytest

import minimx as mx
from minimx import autograd, gluon, nd
from minimx.base import MXNetError
from minimx.gluon import nn
from minimx.gluon.parameter import DeferredInitializationError

MINIMX_DIR = os.path.dirname(os.path.abspath(mx.__file__)) + os.sep


def mlp():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Dense(4, in_units=3), nn.Dense(2, in_units=4))
    net.initialize()
    return net


def flat(err) -> str:
    return ' '.join(str(err).split())


@pytest.mark.xfail(strict=True, reason="ParameterDict.load (Chapters 5/8): recognise "
                   "structural keys and refuse a load in which nothing matched")
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


@pytest.mark.xfail(strict=True, reason="Block.load_parameters (_check_names, Chapter "
                   "8): name the prefix under which the file holds the missing keys")
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


@pytest.mark.xfail(strict=True, reason="Parameter.data/grad (Chapter 5): on several "
                   "contexts, suggest grad(ctx) or list_grad(), not reset_ctx")
def test_grad_without_context_on_two_contexts():
    net = nn.Dense(1, in_units=2)
    net.initialize(ctx=[mx.cpu(1), mx.cpu(2)])
    with pytest.raises(RuntimeError) as info:
        net.weight.grad()
    text = flat(info.value)
    assert 'reset_ctx' not in text                  # would undo the two-device setup
    assert 'list_grad()' in text and 'grad(cpu(1))' in text


@pytest.mark.xfail(strict=True, reason="Parameter.set_data (Chapter 5): name the "
                   "parameter and suggest autograd.pause() inside record()")
def test_set_data_inside_record():
    net = nn.Dense(2, in_units=3)
    net.initialize()
    with autograd.record():
        with pytest.raises(MXNetError) as info:
            net.bias.set_data(nd.zeros(2))
    text = flat(info.value)
    assert f"Parameter '{net.bias.name}'.set_data()" in text
    assert 'autograd.pause()' in text


@pytest.mark.xfail(strict=True, reason="Trainer.update/_update_on_store (Chapter 7): a "
                   "deferred parameter at step() after a forward pass that did not "
                   "reach its layer")
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


@pytest.mark.xfail(strict=True, reason="split_data (Chapter 8): with fewer rows than "
                   "devices, name last_batch='discard'/'rollover' or fewer contexts")
def test_split_and_load_with_fewer_rows_than_devices():
    with pytest.raises(MXNetError) as info:
        gluon.utils.split_and_load(nd.ones((2, 3)), [mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    text = flat(info.value)
    assert "last_batch='discard'" in text and "'rollover'" in text
    assert 'fewer contexts' in text


@pytest.mark.xfail(strict=True, reason="the dispatcher (Chapter 2): NumPy's "
                   "floating-point RuntimeWarnings point into minimx's source")
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


@pytest.mark.xfail(strict=True, reason="Trainer (Chapter 7): a Trainer over no "
                   "parameters (net.params of a container) trains nothing, silently")
def test_trainer_over_no_parameters():
    net = nn.Sequential()
    net.add(nn.Dense(2, in_units=3))
    net.initialize()
    with pytest.raises(MXNetError, match=r'collect_params\(\)'):
        gluon.Trainer(net.params, 'sgd')
