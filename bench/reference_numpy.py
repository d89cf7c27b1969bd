"""Hand-written NumPy reference models: forward and backward by hand, no framework.

Used by bench_training.py as the yardstick for minimx. The code is written the way a
careful NumPy programmer would: im2col through `sliding_window_view` with the copy
laid out along image rows plus one batched GEMM per convolution, 2x2 max pooling by
strided slices, ReLU backward as `g * (x > 0)`, updates in place.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def softmax_cross_entropy(logits, labels):
    """Mean loss and d(mean loss)/d(logits)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)
    n = logits.shape[0]
    loss = -np.log(probs[np.arange(n), labels] + 1e-12).mean()
    probs[np.arange(n), labels] -= 1
    return loss, probs / n


def init(shape, rng, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


class MLP:
    """784-256-10 with ReLU, softmax cross-entropy, plain SGD."""

    def __init__(self, rng):
        self.w1, self.b1 = init((784, 256), rng, 784), np.zeros(256, np.float32)
        self.w2, self.b2 = init((256, 10), rng, 256), np.zeros(10, np.float32)

    def predict(self, x):
        return np.maximum(x @ self.w1 + self.b1, 0) @ self.w2 + self.b2

    def step(self, x, y, lr):
        h_pre = x @ self.w1 + self.b1
        h = np.maximum(h_pre, 0)
        logits = h @ self.w2 + self.b2
        loss, g = softmax_cross_entropy(logits, y)
        gw2, gb2 = h.T @ g, g.sum(axis=0)
        gh = (g @ self.w2.T) * (h_pre > 0)
        gw1, gb1 = x.T @ gh, gh.sum(axis=0)
        for p, gp in ((self.w1, gw1), (self.b1, gb1), (self.w2, gw2), (self.b2, gb2)):
            p -= lr * gp
        return loss


def conv_forward(x, w, b, pad):
    """im2col per image as (C*kh*kw, H_out*W_out): the copy streams along image rows."""
    n = x.shape[0]
    f, _, kh, kw = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))          # n, c, oh, ow, kh, kw
    oh, ow = win.shape[2:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, -1, oh * ow)
    out = np.matmul(w.reshape(f, -1), cols).reshape(n, f, oh, ow)
    out += b.reshape(1, -1, 1, 1)
    return out, cols


def conv_backward(g, x_shape, cols, w, pad, need_input_grad=True):
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = g.shape[2:]
    g3 = g.reshape(n, f, oh * ow)
    gw = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    gb = g.sum(axis=(0, 2, 3))
    if not need_input_grad:               # the first layer: nobody wants d(data)
        return None, gw, gb
    gcols = np.matmul(w.reshape(f, -1).T, g3).reshape(n, c, kh, kw, oh, ow)
    gx = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), np.float32)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + oh, j:j + ow] += gcols[:, :, i, j]
    return gx[:, :, pad:pad + h, pad:pad + wd], gw, gb


def pool_forward(x):
    a, b = x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]
    c, d = x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]
    return np.maximum(np.maximum(a, b), np.maximum(c, d))


def pool_backward(g, x, out):
    gx = np.zeros_like(x)
    taken = np.zeros(out.shape, bool)
    for di in (0, 1):
        for dj in (0, 1):
            hit = (x[:, :, di::2, dj::2] == out) & ~taken     # first maximum only
            gx[:, :, di::2, dj::2] = g * hit
            taken |= hit
    return gx


class LeNet:
    """conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> 10, ReLU."""

    def __init__(self, rng):
        self.c1, self.cb1 = init((6, 1, 5, 5), rng, 25), np.zeros(6, np.float32)
        self.c2, self.cb2 = init((16, 6, 5, 5), rng, 150), np.zeros(16, np.float32)
        self.f1, self.fb1 = init((400, 120), rng, 400), np.zeros(120, np.float32)
        self.f2, self.fb2 = init((120, 84), rng, 120), np.zeros(84, np.float32)
        self.f3, self.fb3 = init((84, 10), rng, 84), np.zeros(10, np.float32)

    def forward(self, x):
        s = {}
        s['a1'], s['cols1'] = conv_forward(x, self.c1, self.cb1, 2)
        s['r1'] = np.maximum(s['a1'], 0)
        s['p1'] = pool_forward(s['r1'])
        s['a2'], s['cols2'] = conv_forward(s['p1'], self.c2, self.cb2, 0)
        s['r2'] = np.maximum(s['a2'], 0)
        s['p2'] = pool_forward(s['r2'])
        s['flat'] = s['p2'].reshape(x.shape[0], -1)
        s['h1'] = np.maximum(s['flat'] @ self.f1 + self.fb1, 0)
        s['h2'] = np.maximum(s['h1'] @ self.f2 + self.fb2, 0)
        return s['h2'] @ self.f3 + self.fb3, s

    def predict(self, x):
        """Inference: the same layers, keeping no intermediate arrays alive."""
        h = pool_forward(np.maximum(conv_forward(x, self.c1, self.cb1, 2)[0], 0))
        h = pool_forward(np.maximum(conv_forward(h, self.c2, self.cb2, 0)[0], 0))
        h = np.maximum(h.reshape(x.shape[0], -1) @ self.f1 + self.fb1, 0)
        h = np.maximum(h @ self.f2 + self.fb2, 0)
        return h @ self.f3 + self.fb3

    def step(self, x, y, lr):
        logits, s = self.forward(x)
        loss, g = softmax_cross_entropy(logits, y)
        grads = {'f3': s['h2'].T @ g, 'fb3': g.sum(0)}
        g = (g @ self.f3.T) * (s['h2'] > 0)
        grads['f2'], grads['fb2'] = s['h1'].T @ g, g.sum(0)
        g = (g @ self.f2.T) * (s['h1'] > 0)
        grads['f1'], grads['fb1'] = s['flat'].T @ g, g.sum(0)
        g = (g @ self.f1.T).reshape(s['p2'].shape)
        g = pool_backward(g, s['r2'], s['p2']) * (s['a2'] > 0)
        g, grads['c2'], grads['cb2'] = conv_backward(g, s['p1'].shape, s['cols2'], self.c2, 0)
        g = pool_backward(g, s['r1'], s['p1']) * (s['a1'] > 0)
        _, grads['c1'], grads['cb1'] = conv_backward(g, x.shape, s['cols1'], self.c1, 2,
                                                     need_input_grad=False)
        for name, gp in grads.items():
            getattr(self, name)[...] -= lr * gp
        return loss
