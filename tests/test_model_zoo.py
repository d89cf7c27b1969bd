"""The model zoo (book/appendix_model_zoo.ipynb): `gluon.model_zoo.vision`,
`gluon.model_zoo.model_store` and `gluon.contrib.nn`.

Reference: MXNet 1.9.1. Every expected number below comes from it, recorded by
tests/fixtures/model_zoo/make_fixtures.py (parameter counts and names of all 34
networks; random weights, outputs and gradients of five small networks).
"""

import functools
import gzip
import hashlib
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from fixtures.model_zoo import networks
from numpy.testing import assert_allclose

import minimx as mx
from minimx import autograd, nd
from minimx.base import MXNetError
from minimx.gluon import block as block_module
from minimx.gluon import nn
from minimx.gluon.contrib.nn import Concurrent, HybridConcurrent, Identity
from minimx.gluon.model_zoo import model_store, vision

pytestmark = pytest.mark.appendix

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'model_zoo')

# name: (input side of the test, parameter scalars, parameter arrays[, scalars at the
# standard 224 input]) from MXNet 1.9.1. VGG's and AlexNet's first Dense layer takes
# its width from the input, so their counts at 224 differ (the last number); the
# others' do not. Output shape: (1, 1000) for all.
MXNET = {
    'resnet18_v1': (32, 11699112, 102),
    'resnet34_v1': (32, 21814696, 182),
    'resnet50_v1': (32, 25629032, 299),
    'resnet101_v1': (32, 44695144, 588),
    'resnet152_v1': (32, 60404072, 877),
    'resnet18_v2': (32, 11695796, 98),
    'resnet34_v2': (32, 21811380, 178),
    'resnet50_v2': (32, 25595060, 259),
    'resnet101_v2': (32, 44639412, 514),
    'resnet152_v2': (32, 60329140, 769),
    'vgg11': (32, 32200040, 22, 132863336),
    'vgg13': (32, 32384552, 26, 133047848),
    'vgg16': (32, 37694248, 32, 138357544),
    'vgg19': (32, 43003944, 38, 143667240),
    'vgg11_bn': (32, 32211048, 54, 132874344),
    'vgg13_bn': (32, 32396328, 66, 133059624),
    'vgg16_bn': (32, 37711144, 84, 138374440),
    'vgg19_bn': (32, 43025960, 102, 143689256),
    'alexnet': (64, 24400680, 16, 61100840),
    'densenet121': (224, 8062504, 606),
    'densenet161': (224, 28900936, 806),
    'densenet169': (224, 14307880, 846),
    'densenet201': (224, 20242984, 1006),
    'squeezenet1.0': (224, 1248424, 52),
    'squeezenet1.1': (224, 1235496, 52),
    'inceptionv3': (299, 23869000, 472),
    'mobilenet1.0': (32, 4253864, 137),
    'mobilenet0.75': (32, 2601976, 137),
    'mobilenet0.5': (32, 1342536, 137),
    'mobilenet0.25': (32, 475544, 137),
    'mobilenetv2_1.0': (32, 3539136, 266),
    'mobilenetv2_0.75': (32, 2653864, 266),
    'mobilenetv2_0.5': (32, 1983104, 266),
    'mobilenetv2_0.25': (32, 1526856, 266),
}


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    monkeypatch.setattr(block_module, '_name_counter', {})


@pytest.fixture(scope='module')
def mxnet_names():
    """name -> {'prefixed': [[name, shape], ...], 'structural': [[key, shape], ...]}."""
    with gzip.open(os.path.join(FIXTURES, 'zoo_names.json.gz')) as f:
        return json.loads(f.read())


def shapes_only(net, side: int):
    """`net` after one forward of zeros at `side`: zero weights and no gradient
    buffers, since only the parameters' shapes are wanted (VGG alone holds 130M)."""
    for p in net.collect_params().values():
        p.init, p.grad_req = mx.init.Zero(), 'null'
    net.initialize()
    return net(nd.zeros((1, 3, side, side)))


# --- gluon.contrib.nn ---------------------------------------------------------------


def test_hybrid_concurrent_concatenates_its_branches():
    net = HybridConcurrent(axis=1)
    with net.name_scope():
        net.add(nn.Dense(2, in_units=3), Identity(), nn.Dense(1, in_units=3))
    net.initialize(mx.init.Normal(1.0))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = net(nd.array(x)).asnumpy()
    d0, d2 = net[0], net[2]
    expect = np.concatenate([x @ d0.weight.data().asnumpy().T, x,
                             x @ d2.weight.data().asnumpy().T], axis=1)
    assert out.shape == (2, 6)
    assert_allclose(out, expect, rtol=1e-6, atol=1e-6)
    assert sorted(net.collect_params()) == ['hybridconcurrent0_dense0_bias',
                                            'hybridconcurrent0_dense0_weight',
                                            'hybridconcurrent0_dense1_bias',
                                            'hybridconcurrent0_dense1_weight']


def test_concurrent_default_axis_and_gradient():
    net = Concurrent()                       # axis=-1, as in MXNet
    net.add(Identity(), Identity())
    x = nd.array([[1.0, 2.0]])
    x.attach_grad()
    with autograd.record():
        y = net(x)
    y.backward(nd.array([[1.0, 2.0, 3.0, 4.0]]))
    assert y.asnumpy().tolist() == [[1.0, 2.0, 1.0, 2.0]]
    assert x.grad.asnumpy().tolist() == [[4.0, 6.0]]


def test_concurrent_without_children_says_so():
    with pytest.raises(MXNetError, match='no children'):
        HybridConcurrent(axis=1)(nd.ones((1, 2)))


# --- the 34 architectures -----------------------------------------------------------


@pytest.mark.parametrize('name', list(MXNET))
def test_architecture_matches_mxnet(name, mxnet_names):
    side, scalars, arrays = MXNET[name][:3]
    net = vision.get_model(name)
    out = shapes_only(net, side)
    params = net.collect_params()
    assert out.shape == (1, 1000)
    assert sum(int(np.prod(p.shape)) for p in params.values()) == scalars
    assert len(params.keys()) == arrays
    # The names MXNet's weight files use: prefixed names with the network's prefix
    # stripped (older model store files, collect_params().save) and structural keys
    # (save_parameters), each with its shape.
    prefixed = {k[len(net.prefix):]: list(p.shape) for k, p in params.items()}
    structural = {k: list(p.shape)
                  for k, p in net._collect_params_with_prefix().items()}
    assert prefixed == dict(map(tuple, mxnet_names[name]['prefixed']))
    assert structural == dict(map(tuple, mxnet_names[name]['structural']))


def test_alexnet_at_224_has_mxnets_count():
    net = vision.alexnet()
    out = shapes_only(net, 224)
    assert out.shape == (1, 1000)
    assert sum(int(np.prod(p.shape)) for p in net.collect_params().values()) == \
        MXNET['alexnet'][3]


def test_classes_and_thumbnail():
    net = vision.resnet18_v1(classes=10, thumbnail=True)
    assert shapes_only(net, 32).shape == (1, 10)
    assert net.features[0].weight.shape == (64, 3, 3, 3)
    net = vision.get_model('MobileNetV2_0.25', classes=7)       # case-insensitive
    assert shapes_only(net, 32).shape == (1, 7)


def test_constructor_checks():
    with pytest.raises(AssertionError, match='Invalid number of layers: 20'):
        vision.get_resnet(1, 20)
    with pytest.raises(AssertionError, match='Invalid resnet version: 3'):
        vision.get_resnet(3, 18)
    with pytest.raises(AssertionError, match='one entry more'):
        vision.ResNetV1(vision.BasicBlockV1, [2, 2], [64, 64])
    with pytest.raises(AssertionError, match='Unsupported SqueezeNet version'):
        vision.SqueezeNet('1.2')


def test_get_model_unknown_name_suggests():
    with pytest.raises(ValueError, match="Did you mean 'resnet18_v1'") as info:
        vision.get_model('resnet18v1')
    assert 'mobilenetv2_0.25' in str(info.value)       # and lists the options


def test_namespaces():
    assert mx.gluon.model_zoo.vision.get_model is vision.get_model
    assert mx.gluon.contrib.nn.HybridConcurrent is HybridConcurrent
    assert set(vision.__all__) <= set(dir(vision))
    assert 'RELU6' not in vision.__all__ and 'LinearBottleneck' not in vision.__all__


# --- weights written by MXNet 1.9.1 -------------------------------------------------

WEIGHTS = {name: functools.partial(build, vision)        # MXNet's thin networks
           for name, build in networks.THIN.items()}


def fixture_io(name: str) -> dict:
    with np.load(os.path.join(FIXTURES, name + '-io.npz')) as f:
        io = dict(f)
    shape, seed = tuple(io['shape']), int(io['seed'])
    io['x'] = np.random.RandomState(seed).uniform(-1, 1, shape).astype(np.float32)
    io['r'] = np.random.RandomState(seed + 100).uniform(-1, 1, io['predict'].shape)
    return io


def check_against_mxnet(net, name: str) -> None:
    """Predict-mode and train-mode outputs equal MXNet's to 1e-4 (relative to the
    largest), the gradients of the first parameter and the last weight to 1e-3: in
    train mode they pass through BatchNorms whose statistics come from 8 values
    (batch 2, 2x2), where float32 itself is only that precise (minimx in float32 and
    in float64 differ by up to 1e-3 on these networks)."""
    io = fixture_io(name)
    x = nd.array(io['x'])
    scale = np.abs(io['predict']).max()
    assert_allclose(net(x).asnumpy(), io['predict'], rtol=1e-4, atol=1e-4 * scale)
    with autograd.record():
        out = net(x)
        loss = (out * nd.array(io['r'])).sum()
    loss.backward()
    assert_allclose(out.asnumpy(), io['train'], rtol=1e-4,
                    atol=1e-4 * np.abs(io['train']).max())
    keyed = net._collect_params_with_prefix()
    for key, grad in zip(io['grad_keys'], (io['grad_first'], io['grad_last'])):
        assert_allclose(keyed[str(key)].grad().asnumpy()[:16], grad, rtol=1e-4,
                        atol=1e-3 * np.abs(grad).max())


@pytest.mark.parametrize('name', list(WEIGHTS))
def test_mxnet_binary_file_gives_mxnets_outputs(name):
    """MXNet 1.9.1's own .params file (its binary NDArray format) loads and computes
    what MXNet computed."""
    net = WEIGHTS[name]()
    net.load_parameters(os.path.join(FIXTURES, name + '.params'))
    check_against_mxnet(net, name)


def test_model_store_layout_loads():
    """The older model store files (AlexNet's, SqueezeNet's, ...) hold prefixed names
    without the network's prefix ('conv0_weight', 'stage1_batchnorm0_gamma'):
    load_parameters restores it."""
    net = WEIGHTS['resnet_thin_v1']()
    net.load_parameters(os.path.join(FIXTURES, 'resnet_thin_v1-legacy.params'))
    check_against_mxnet(net, 'resnet_thin_v1')


def test_batchnorm_without_center_still_adds_beta():
    """ResNet v2's first layer is BatchNorm(scale=False, center=False). MXNet 1.9.1
    ignores its gamma (fix_gamma) but adds its beta, only frozen: outputs [1, 2] here,
    from MXNet. (The weight fixtures keep that beta at 0, as trained files have it.)"""
    bn = nn.BatchNorm(scale=False, center=False, in_channels=2)
    bn.initialize()
    bn.beta.set_data(nd.array([1.0, 2.0]))
    bn.gamma.set_data(nd.array([3.0, 4.0]))
    assert bn(nd.zeros((1, 2, 1, 1))).asnumpy().ravel().tolist() == [1.0, 2.0]


# --- pretrained=True: the local model store -----------------------------------------


def sha1(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def test_model_store_file_names():
    assert model_store.short_hash('resnet18_v1') == 'a0666292'
    assert model_store.short_hash('mobilenetv2_0.25') == 'ae8f9392'
    assert len(model_store._model_sha1) == 34 == len(vision._models)
    assert set(model_store._model_sha1) == set(vision._models)
    with pytest.raises(ValueError, match='Pretrained model for resnet20 is not'):
        model_store.short_hash('resnet20')


def test_missing_weights_name_the_file_the_folder_and_the_source(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        vision.get_model('resnet18_v1', pretrained=True, root=str(tmp_path))
    message = str(info.value)
    assert isinstance(info.value, MXNetError)
    for part in ("'resnet18_v1-a0666292.params'", repr(str(tmp_path)), 'model store',
                 'never downloads', '~/.mxnet/models',
                 'gluon/models/resnet18_v1-a0666292.zip'):
        assert part in message, part
    assert os.listdir(tmp_path) == []           # nothing fetched, nothing written


def test_pretrained_loads_a_store_file_from_root(tmp_path, monkeypatch):
    """get_model(..., pretrained=True) with MXNet-written weights of mobilenet0.25
    under the model store's file name (the fixture's hash stands in for the store's)."""
    source = os.path.join(FIXTURES, 'mobilenet0.25.params')
    monkeypatch.setitem(model_store._model_sha1, 'mobilenet0.25', sha1(source))
    file_name = f"mobilenet0.25-{model_store.short_hash('mobilenet0.25')}.params"
    shutil.copy(source, tmp_path / file_name)
    net = vision.get_model('mobilenet0.25', pretrained=True, root=str(tmp_path))
    check_against_mxnet(net, 'mobilenet0.25')


def test_pretrained_unpacks_the_store_zip(tmp_path, monkeypatch):
    source = os.path.join(FIXTURES, 'resnet_thin_v1-legacy.params')
    monkeypatch.setitem(model_store._model_sha1, 'resnet_thin', sha1(source))
    file_name = f"resnet_thin-{model_store.short_hash('resnet_thin')}"
    with zipfile.ZipFile(tmp_path / (file_name + '.zip'), 'w') as zf:
        zf.write(source, file_name + '.params')
    path = model_store.get_model_file('resnet_thin', root=str(tmp_path))
    assert path == str(tmp_path / (file_name + '.params'))
    net = WEIGHTS['resnet_thin_v1']()
    net.load_parameters(path)
    check_against_mxnet(net, 'resnet_thin_v1')


def test_wrong_file_under_a_store_name_is_refused(tmp_path):
    (tmp_path / 'alexnet-44335d1f.params').write_bytes(b'not the weights')
    with pytest.raises(MXNetError, match="not the model store's 'alexnet' weights"):
        vision.alexnet(pretrained=True, root=str(tmp_path))


def test_purge_removes_params_files_only(tmp_path):
    (tmp_path / 'a.params').write_bytes(b'x')
    (tmp_path / 'notes.txt').write_bytes(b'x')
    model_store.purge(str(tmp_path))
    assert os.listdir(tmp_path) == ['notes.txt']


def test_mobilenet_store_names():
    from minimx.gluon.model_zoo.vision import mobilenet
    assert [mobilenet._store_suffix(m) for m in (1.0, 0.75, 0.5, 0.25)] == \
        ['1.0', '0.75', '0.5', '0.25']
