"""Train the small MXNet model of Chapter 13 with MXNet 1.9.1 and write its files.

    /work/mxvenv/bin/python book/data/make_digits_model.py DIGITS_CSV [OUTPUT_FOLDER]

DIGITS_CSV is scikit-learn's copy of the 8x8 handwritten digits,
`sklearn/datasets/data/digits.csv.gz` (MXNet's old virtualenv need not have
scikit-learn itself): 1797 rows of 64 pixels (0-16) and the label. The split is the one
of minimx's `gluon.data.vision.Digits`: a permutation from numpy.random.default_rng(0),
its first round(0.2 * 1797) = 359 images for testing.

The network is trained on the first 200 training images only, so that the chapter has
something to gain by fine-tuning on all of them. It writes, into OUTPUT_FOLDER (default:
this file's folder):

* digits_cnn-symbol.json, digits_cnn-0000.params  -- HybridBlock.export
* digits_cnn.params                               -- Block.save_parameters
* digits_cnn-expected.npz  -- the first 8 test images, MXNet's outputs for them
                              (logits) and its accuracy on the 359 test images
"""
import gzip
import os
import sys

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn


def load_digits(csv_path):
    with gzip.open(csv_path, 'rt') as f:
        table = np.loadtxt(f, delimiter=',')
    images = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = table[:, 64].astype(np.int32)
    order = np.random.default_rng(0).permutation(len(images))
    n_test = int(round(0.2 * len(images)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    return images[train], labels[train], images[test], labels[test]


def build():
    """The network; Chapter 13 builds the same class in minimx."""
    net = nn.HybridSequential(prefix='digits_')
    with net.name_scope():
        net.add(nn.Conv2D(16, kernel_size=3, padding=1),
                nn.BatchNorm(),
                nn.Activation('relu'),
                nn.MaxPool2D(pool_size=2),
                nn.Flatten(),
                nn.Dense(32, activation='relu'),
                nn.Dropout(0.2),
                nn.Dense(10))
    return net


def main(csv_path, out):
    mx.random.seed(0)
    np.random.seed(0)
    x_train, y_train, x_test, y_test = load_digits(csv_path)
    x_train, y_train = x_train[:200], y_train[:200]
    net = build()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), 'adam',
                            {'learning_rate': 0.01})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for epoch in range(8):
        for i in range(0, 200, 20):
            x, y = nd.array(x_train[i:i + 20]), nd.array(y_train[i:i + 20])
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(20)
    logits = net(nd.array(x_test)).asnumpy()
    accuracy = float((logits.argmax(axis=1) == y_test).mean())
    print(f'MXNet {mx.__version__}: test accuracy {accuracy:.3f}')
    net.export(os.path.join(out, 'digits_cnn'))
    net.save_parameters(os.path.join(out, 'digits_cnn.params'))
    np.savez(os.path.join(out, 'digits_cnn-expected.npz'), images=x_test[:8],
             labels=y_test[:8], logits=logits[:8], accuracy=np.float32(accuracy),
             mxnet_version=np.array(mx.__version__))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else
         os.path.dirname(os.path.abspath(__file__)))
