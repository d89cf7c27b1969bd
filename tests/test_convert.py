"""`python -m minimx.convert` (Chapter 13): an MXNet checkpoint in, a summary out, and
ONNX on request."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import minimx as mx
from minimx import convert, nd
from minimx.gluon.model_zoo import vision

pytestmark = pytest.mark.ch13

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = os.path.join(ROOT, 'book', 'data')
CHECKPOINTS = os.path.join(ROOT, 'tests', 'fixtures', 'mxnet_checkpoints')
SYMBOL = os.path.join(BOOK, 'digits_cnn-symbol.json')
PARAMS = os.path.join(BOOK, 'digits_cnn-0000.params')


def run(capsys, *args):
    code = convert.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_of_the_mxnet_trained_model(capsys):
    code, out, err = run(capsys, SYMBOL, PARAMS, '--shape', '8,1,8,8')
    assert code == 0 and err == ''
    lines = out.splitlines()
    rows = [line.split() for line in lines]
    assert ['digits_conv0_fwd', 'Convolution', '(8,', '16,', '8,', '8)', '160'] in rows
    assert ['digits_dense0_fwd', 'FullyConnected', '(8,', '32)', '8,224'] in rows
    # 16 * 9 + 16, 4 * 16, 256 * 32 + 32, 32 * 10 + 10
    assert 'parameters: 8,778 in 10 arrays' in lines
    assert any(line.startswith('output digits_dense1_fwd_output: shape (8, 10)')
               for line in lines)


def test_outputs_are_what_the_checkpoint_computes(capsys):
    sym, args, aux = convert.load(SYMBOL, PARAMS)
    expected = np.load(os.path.join(BOOK, 'digits_cnn-expected.npz'))
    exe = convert.bind(sym, args, aux, {'data': (8, 1, 8, 8)})
    out = exe.forward(is_train=False, data=nd.array(expected['images']))[0]
    np.testing.assert_allclose(out.asnumpy(), expected['logits'], rtol=1e-4, atol=1e-4)


def test_onnx_and_timing(capsys, tmp_path):
    pytest.importorskip('onnxruntime')
    onnx_file = tmp_path / 'digits.onnx'
    code, out, _ = run(capsys, SYMBOL, PARAMS, '--shape', '2,1,8,8', '--onnx',
                       onnx_file, '--repeat', '3')
    assert code == 0 and onnx_file.exists()
    assert f'ONNX: wrote {onnx_file}' in out
    difference = float(out.split('from minimx\'s outputs: ')[1].split()[0])
    assert difference < 1e-4
    assert 'ms per image (3 passes)' in out


def test_module_checkpoint_from_the_command_line(tmp_path):
    """A real `python -m minimx.convert` on a Module API checkpoint (SoftmaxOutput and
    its label): the label is neither an input to give nor a parameter to miss."""
    result = subprocess.run(
        [sys.executable, '-m', 'minimx.convert',
         os.path.join(CHECKPOINTS, 'mlp-symbol.json'),
         os.path.join(CHECKPOINTS, 'mlp-0002.params'), '--shape', '3,6'],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    row = 'softmax                      SoftmaxOutput                (3, 4)           0'
    assert row in result.stdout
    assert 'parameters: 180 in 4 arrays' in result.stdout


def test_large_graphs_are_summarised_per_operator(capsys, tmp_path):
    mx.random.seed(0)
    net = vision.mobilenet0_25(classes=10)
    net.initialize()
    net.hybridize()
    net(nd.ones((1, 3, 32, 32)))
    sym_file, params_file = net.export(str(tmp_path / 'mobilenet'))
    code, out, _ = run(capsys, sym_file, params_file, '--shape', '1,3,32,32')
    assert code == 0
    assert '(84 layers; --layers lists them)' in out
    assert 'Convolution           27      207,600' in out.splitlines()
    code, out, _ = run(capsys, sym_file, params_file, '--shape', '1,3,32,32',
                       '--layers')
    assert out.count('Convolution') == 27


@pytest.mark.parametrize('args, message', [
    (['--shape', '1,1,8,8', '--shape', '1'], r"the graph's inputs are \['data'\]: give "
                                             "one --shape for each"),
    (['--shape', '1,2,8,8'], r"parameter 'digits_conv0_weight': the file holds shape "
                             r"\(16, 1, 3, 3\), the graph needs \(16, 2, 3, 3\)"),
])
def test_mistakes_are_one_line_errors(capsys, args, message):
    code, out, err = run(capsys, SYMBOL, PARAMS, *args)
    assert code == 1 and err.startswith('minimx.convert: error: ')
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_damaged_or_wrong_files_are_named(capsys, tmp_path):
    data = open(PARAMS, 'rb').read()
    cut = tmp_path / 'cut-0000.params'
    cut.write_bytes(data[:1000])
    code, _, err = run(capsys, SYMBOL, cut, '--shape', '1,1,8,8')
    assert code == 1 and "cut-0000.params' is truncated" in err and 'at byte' in err
    code, _, err = run(capsys, SYMBOL, os.path.join(BOOK, 'digits_cnn.params'),
                       '--shape', '1,1,8,8')
    assert code == 1 and "structural keys ('0.weight')" in err
    code, _, err = run(capsys, tmp_path / 'none-symbol.json', PARAMS, '--shape', '1')
    assert code == 1 and 'none-symbol.json' in err
