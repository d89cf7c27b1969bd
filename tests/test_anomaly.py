"""Chapter 14: anomaly mode. Each recorded operator remembers the user's line and the
block path; a NaN or inf made in forward or backward, or an error in backward, is
reported with them. Turned off, nothing is watched and nothing changes."""

import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minimx as mx
from minimx import anomaly, autograd, gluon, nd
from minimx.anomaly import AnomalyError
from minimx.gluon import nn

pytestmark = pytest.mark.ch14

HERE = os.path.relpath(__file__)


@pytest.fixture(autouse=True)
def clean_state():
    """Outside record(), anomaly mode off, NumPy's floating-point warnings quiet."""
    assert not autograd.is_recording() and not autograd.is_anomaly_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        yield
    autograd.set_recording(False)
    autograd.set_training(False)
    autograd.set_detect_anomaly(False)


def flat(text: str) -> str:
    """The report with its line breaks and indents as single spaces."""
    return ' '.join(text.split())


def line_of(text: str) -> int:
    """The line number in this file of the first line containing `text`."""
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if text in line and 'line_of(' not in line:
                return number
    raise AssertionError(text)


def test_forward_nan_names_operator_line_and_values():
    p = nd.array([[1.0, 0.0]])
    p.attach_grad()
    with autograd.detect_anomaly():
        with autograd.record():
            with pytest.raises(AnomalyError) as info:
                nd.log(p)                                # the anomaly
    text = str(info.value)
    assert text.startswith('anomaly mode: log produced a non-finite output from '
                           'finite inputs')
    assert f"called at: {HERE}, line {line_of('# the anomaly')}, in " \
           "test_forward_nan_names_operator_line_and_values" in text
    assert 'nd.log(p)' in text
    assert 'output 0: 1 -inf of 2 values' in text
    assert 'input 0: finite, from 0 to 1' in text
    assert 'log_softmax' in text                         # the hint for log
    origin = info.value.origin
    assert (origin.op, origin.file, origin.block) == ('log', HERE, '')


class Inner(gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        return F.sqrt(x - 10)                            # negative: nan


class Outer(gluon.Block):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.body = nn.Sequential()
            self.body.add(nn.Dense(2, in_units=2), Inner())

    def forward(self, x):
        return self.body(x) * 2


def test_forward_nan_inside_nested_blocks_gives_the_block_path():
    net = Outer(prefix='outer_')
    net.initialize(mx.init.One())
    x = nd.ones((1, 2))
    x.attach_grad()
    with autograd.detect_anomaly(), autograd.record():
        with pytest.raises(AnomalyError) as info:
            net(x)
    origin = info.value.origin
    assert origin.op == 'sqrt'
    assert origin.block == 'outer.body.1 (Inner)'
    assert origin.line == line_of('# negative: nan')
    assert 'in block:  outer.body.1 (Inner)' in str(info.value)
    # Block.__call__ did not prefix block names to the report
    assert str(info.value).startswith('anomaly mode:')


def test_non_finite_input_from_outside_the_graph_is_named_as_such():
    w = nd.array([1.0, 2.0])
    w.attach_grad()
    data = nd.array([np.nan, 1.0])
    with autograd.detect_anomaly(), autograd.record():
        with pytest.raises(AnomalyError) as info:
            w * data
    assert 'broadcast_mul got a non-finite input 1, made outside the recorded graph' \
        in flat(str(info.value))


def test_backward_inf_names_the_operator_where_it_was_recorded():
    x = nd.array([0.0, 1.0, 4.0])
    x.attach_grad()
    with autograd.detect_anomaly():
        with autograd.record():
            y = nd.sqrt(x).sum()                         # grad at 0 is inf
        with pytest.raises(AnomalyError) as info:
            y.backward()
    text = flat(str(info.value))
    assert text.startswith('anomaly mode: the backward of sqrt made the gradient of '
                           'its input 0 non-finite, from a finite gradient')
    assert f"line {line_of('# grad at 0 is inf')}" in text
    assert 'gradient of input 0: 1 inf of 3 values' in text


def test_error_in_backward_of_a_custom_operator_is_located():
    class Broken(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * 2)

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0], out_grad[0] * in_data[1])

    @mx.operator.register('test_anomaly_broken')
    class BrokenProp(mx.operator.CustomOpProp):
        def create_operator(self, ctx, in_shapes, in_dtypes):
            return Broken()

    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.detect_anomaly():
        with autograd.record():
            y = (nd.Custom(x, op_type='test_anomaly_broken') * 3).sum()  # recorded
        with pytest.raises(AnomalyError) as info:
            y.backward()
    text = flat(str(info.value))
    assert text.startswith("anomaly mode: the backward of Custom 'test_anomaly_broken' "
                           "raised MXNetError: Custom 'test_anomaly_broken': "
                           "Broken.backward raised IndexError")
    assert f"line {line_of('# recorded')}" in text
    assert isinstance(info.value.__cause__, mx.base.MXNetError)


def test_function_is_named_by_its_class():
    class Reciprocal(autograd.Function):
        def forward(self, x):
            return 1 / x

        def backward(self, dy):
            return -dy

    x = nd.array([0.0, 1.0])
    x.attach_grad()
    with autograd.detect_anomaly(), autograd.record():
        with pytest.raises(AnomalyError, match=r"Reciprocal produced a non-finite"):
            Reciprocal()(x)


def test_check_nan_false_records_origins_only():
    x = nd.array([0.0])
    x.attach_grad()
    with autograd.detect_anomaly(check_nan=False), autograd.record():
        y = nd.log(x)                                    # -inf, not reported
    assert_allclose(y.asnumpy(), [-np.inf])
    assert anomaly.origin(y).line == line_of('# -inf, not reported')


def test_off_records_no_origin_and_gradients_are_unchanged():
    def run():
        x = nd.array([0.5, 2.0])
        x.attach_grad()
        with autograd.record():
            y = (nd.log(x) * nd.exp(x)).sum()
        y.backward()
        return x.grad.asnumpy()

    with autograd.detect_anomaly():
        on = run()
    assert_allclose(on, run())
    assert not autograd.is_anomaly_enabled()
    with autograd.record():
        z = nd.log(nd.array([1.0]) + nd.zeros(1))
    assert anomaly.origin(z) is None


def test_get_symbol_still_works_in_anomaly_mode():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.detect_anomaly(), autograd.record():
        y = nd.exp(x) + 1
    assert autograd.get_symbol(y).tojson() == autograd.get_symbol(y).tojson()
    assert 'exp' in autograd.get_symbol(y).tojson()


def test_hybridized_block_reports_its_block():
    class Net(gluon.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.log(x)

    net = Net(prefix='logs_')
    net.hybridize()
    x = nd.array([0.0, 1.0])
    x.attach_grad()
    with autograd.detect_anomaly(), autograd.record():
        with pytest.raises(AnomalyError) as info:
            net(x)                                       # the hybridized call
    assert info.value.origin.block == 'logs (Net)'
    assert info.value.origin.line == line_of('# the hybridized call')


def test_detect_anomaly_is_per_thread_and_the_switch_is_global():
    seen = {}

    def other_thread():
        seen['enabled'] = autograd.is_anomaly_enabled()

    with autograd.detect_anomaly():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert autograd.is_anomaly_enabled()
    assert seen['enabled'] is False
    assert autograd.set_detect_anomaly(True) is False
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen['enabled'] is True and autograd.is_anomaly_enabled()
    with autograd.detect_anomaly(check_nan=False):
        assert autograd.is_anomaly_enabled()
    assert autograd.is_anomaly_enabled()                 # back to the global switch
    assert autograd.set_detect_anomaly(False) is True
    assert not autograd.is_anomaly_enabled()


def test_the_environment_variable_turns_it_on_for_a_run():
    code = ("import minimx as mx\n"
            "from minimx import nd, autograd\n"
            "x = nd.array([-1.0]); x.attach_grad()\n"
            "with autograd.record():\n"
            "    y = nd.sqrt(x)\n")
    env = dict(os.environ, MINIMX_DETECT_ANOMALY='1', PYTHONWARNINGS='ignore')
    run = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert 'AnomalyError: anomaly mode: sqrt produced a non-finite output' in run.stderr
    assert 'called at: <string>, line 5, in <module>' in run.stderr


def test_the_dispatcher_calls_the_anomaly_hook_itself():
    from minimx.ndarray import ndarray, tape
    assert 'anomaly' in vars(tape._AutogradState)
    assert 'anomaly' in ndarray._record.__code__.co_names
    assert getattr(ndarray._record, '__wrapped__', None) is None
