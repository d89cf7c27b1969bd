"""mx.viz: print_summary against MXNet 1.9.1's printed tables, plot_network's drawing."""
import contextlib
import functools
import io
import json
import os
import sys

import matplotlib
import pytest
from fixtures.module import networks

import minimx as mx

matplotlib.use('Agg')

pytestmark = pytest.mark.ch12

mlp = functools.partial(networks.mlp, mx.sym)
lenet = functools.partial(networks.lenet, mx.sym)
convnet = functools.partial(networks.convnet, mx.sym)

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'module')
with open(os.path.join(HERE, 'module.json')) as _f:
    DRAWN = json.load(_f)['plot_network']      # what MXNet gave graphviz








def summary(*args, **kwargs) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mx.viz.print_summary(*args, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize('name,sym,shape', [('mlp', mlp, {'data': (1, 10)}),
                                            ('lenet', lenet, {'data': (1, 1, 28, 28)})])
def test_print_summary_is_mxnets_table(name, sym, shape):
    with open(os.path.join(HERE, f'summary_{name}.txt')) as f:
        want = f.read()
    assert summary(sym(), shape=shape) == want


def test_print_summary_counts_parameters_by_hand():
    text = summary(lenet(), shape={'data': (1, 1, 28, 28)})
    conv = 6 * 25 + 6 + 16 * 6 * 25 + 16
    dense = 16 * 4 * 4 * 120 + 120 + 120 * 10 + 10
    assert f'Total params: {conv + dense}' in text
    bn = mx.sym.BatchNorm(mx.sym.Variable('data'), name='bn')
    assert 'Total params: 6\n' in summary(bn, shape={'data': (2, 3, 4, 4)})


def test_print_summary_layout_options():
    text = summary(mlp(), shape={'data': (1, 10)}, line_length=60)
    lines = text.splitlines()
    assert lines[0] == '_' * 60 and lines[2] == '=' * 60
    assert lines[3].startswith('data(null)') and lines[3][26:].startswith('10')
    assert all(len(line) <= 60 for line in lines)
    assert 'Total params: 227' in text
    with pytest.raises(TypeError):
        mx.viz.print_summary('not a symbol')


# MXNet 1.9.1's print_summary(mlp, shape={'data': (1, 2)}, line_length=62,
# positions=(.39, .61, .75, 1.)): the narrow table of Chapter 12, trailing spaces cut
NARROW_MLP = [
    '______________________________________________________________',
    'Layer (type)            Output Shape Param #  Previous Layer',
    '==============================================================',
    'data(null)              2            0',
    '______________________________________________________________',
    'fc1(FullyConnected)     16           48       data',
    '______________________________________________________________',
    'relu1(Activation)       16           0        fc1',
    '______________________________________________________________',
    'fc2(FullyConnected)     3            51       relu1',
    '______________________________________________________________',
    'softmax(SoftmaxOutput)  3            0        fc2',
    '==============================================================',
    'Total params: 99',
    '______________________________________________________________',
]


def test_print_summary_narrow_table_is_mxnets():
    text = summary(mlp(), shape={'data': (1, 2)}, line_length=62,
                   positions=(.39, .61, .75, 1.))
    lines = text.splitlines()
    assert [line.rstrip() for line in lines] == NARROW_MLP
    assert all(len(line) == 62 for line in lines if not line.startswith('Total'))


def test_plot_network_draws_every_layer(monkeypatch):
    pytest.importorskip('matplotlib')
    monkeypatch.setitem(sys.modules, 'graphviz', None)     # the path without graphviz
    fig = mx.viz.plot_network(lenet(), title='lenet', shape={'data': (1, 1, 28, 28)})
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert 'data' in texts and 'softmax_label' in texts
    assert 'Convolution\n5x5/1, 6' in texts      # no stride given: '1', as MXNet
    assert 'Pooling\nmax, 2x2/2x2' in texts
    assert 'FullyConnected\n120' in texts
    assert '6x24x24' in texts and '16x4x4' in texts     # edges carry the shapes
    assert not any(t.endswith('_weight') for t in texts)   # weights hidden
    boxes = [p for p in ax.patches if type(p).__name__ == 'FancyBboxPatch']
    assert len(boxes) == 13                    # 11 layers, data and the label
    assert ax.get_title() == 'lenet'
    fig2 = mx.viz.plot_network(mlp(), hide_weights=False)
    texts2 = [t.get_text() for t in fig2.axes[0].texts]
    assert 'fc1_weight' in texts2
    import matplotlib.pyplot as plt
    plt.close('all')


def test_plot_network_graphviz():
    pytest.importorskip('graphviz')
    dot = mx.viz.plot_network(mlp(), shape={'data': (1, 10)})
    source = dot.source
    assert 'FullyConnected' in source and 'fc1_weight' not in source


@pytest.mark.parametrize('name,sym,shape', [('lenet', lenet, {'data': (1, 1, 28, 28)}),
                                            ('conv', convnet, {'data': (1, 1, 8, 8)})])
def test_plot_network_nodes_and_edges_are_mxnets(name, sym, shape):
    """The boxes (name, label, colour, shape) and edges (with their shape labels) that
    MXNet 1.9.1's plot_network handed to graphviz, in its order."""
    from minimx import visualization as viz
    conf, shapes = viz._graph(sym(), shape)
    keep, edges = viz._drawn(conf, hide_weights=True)
    nodes = [[n['name'], *viz._label_colour(n), 'oval' if n['op'] == 'null' else 'box']
             for n in keep.values()]
    assert nodes == DRAWN[name]['nodes']
    got = [[keep[i]['name'], keep[j]['name'],
            'x'.join(map(str, shapes[k][1:])) if k in shapes else '']
           for j, i, k in edges]
    assert got == DRAWN[name]['edges']
