"""The benchmark networks, written once for any Gluon: pass `minimx.gluon.nn` or
MXNet 1.9.1's `mxnet.gluon.nn` (bench_training.py runs the same code on both)."""


def mlp(nn):
    """784-256-10 with ReLU."""
    net = nn.HybridSequential()
    net.add(nn.Dense(256, activation='relu', in_units=784), nn.Dense(10, in_units=256))
    return net


def lenet(nn):
    """LeNet-5 on 1x28x28: conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10."""
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation='relu', in_channels=1),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(16, kernel_size=5, activation='relu', in_channels=6),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(120, activation='relu', in_units=400),
            nn.Dense(84, activation='relu', in_units=120),
            nn.Dense(10, in_units=84))
    return net
