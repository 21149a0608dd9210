"""The objective of a sigmoid multilayer perceptron: forward pass, loss and backpropagation; its
initial weights and the probabilities of its outputs.

Parameters live in one flat vector packed like scikit-learn's MLP (every coefficient matrix
(fan_in, fan_out) raveled in C order, layer by layer, then every intercept vector), so the weights
-- the penalized part -- come first and one optimizer step covers the whole network.

On a batch of rows with weights s_i the objective is scikit-learn's

    sum_i s_i l_i / sum_i s_i  +  alpha / 2 * sum_l ||W_l||^2 / sum_i s_i

with l the binary cross-entropy with logits summed over the sigmoid outputs (binary, multilabel) or
the softmax cross-entropy (multiclass), both taken from the logits by the fused kernels.  Per layer
the products are BLAS (numpy matmul into preallocated buffers); bias + sigmoid, the output loss and
gradient, and delta * a (1 - a) with the bias gradient are one pass each of csrc/sce_mlp_tmpl.h and
csrc/sce_kernels_tmpl.h.  No gradient is formed for the input.
"""
import numpy as np
import scipy.sparse as sp
import scipy.special

from . import _core, _functional
from ._threads import effective_n_threads

# Threads of the elementwise passes.  By default (n_threads=None) one: the passes sit between BLAS
# calls, and OpenMP workers still spinning after a pass take the cores the BLAS workers of the next
# product need (on 2 cores, two-thread passes made Adam epochs and full-batch L-BFGS fits slower).
# With n_threads given, passes over at least this many elements use them: a minibatch layer (say
# 200 x 128) is less work than waking the workers.
_MIN_PARALLEL_ELEMENTS = 1 << 18


def initial_weights(layer_units, dtype, rng):
    """scikit-learn's initial weights of a sigmoid network: for each layer in turn, its coefficients
    then its intercepts drawn from the RandomState rng uniformly in +-sqrt(2 / (fan_in + fan_out))
    (scikit-learn's bound for the logistic activation; Glorot's has 6 for 2).  Returns (coefs,
    intercepts), lists of arrays in dtype."""
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(2.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
    return coefs, intercepts


class MLPObjective:
    """Loss and gradient of a sigmoid MLP with layer sizes ``layer_units`` = [n_features, *hidden,
    n_outputs] and output ``out_activation`` ("logistic": independent sigmoid outputs with BCE;
    "softmax": softmax with cross-entropy), in float32 or float64."""

    def __init__(self, layer_units, out_activation, alpha, dtype=np.float64, n_threads=None):
        if out_activation not in ("logistic", "softmax"):
            raise ValueError(f"out_activation must be 'logistic' or 'softmax'; got {out_activation!r}")
        self.layer_units = [int(u) for u in layer_units]
        self.out_activation = out_activation
        self.alpha = float(alpha)
        self.dtype = np.dtype(dtype)
        self.n_threads = 1 if n_threads is None else effective_n_threads(n_threads)
        self.shapes = list(zip(self.layer_units[:-1], self.layer_units[1:]))
        bounds, start = [], 0
        for fan_in, fan_out in self.shapes:
            bounds.append((start, start + fan_in * fan_out))
            start += fan_in * fan_out
        self.n_penalized = start
        for _, fan_out in self.shapes:
            bounds.append((start, start + fan_out))
            start += fan_out
        self._bounds = bounds
        self.n_params = start
        self._buffers = {}  # rows -> (activations, deltas) views of the largest allocation
        self._capacity = 0
        self._sw_outputs = None  # row weights repeated over the sigmoid outputs (multilabel)

    @property
    def n_layers(self):
        """Number of weight layers."""
        return len(self.shapes)

    def unpack(self, params):
        """(coefs, intercepts): lists of views into the flat ``params``."""
        L = self.n_layers
        coefs = [params[s:e].reshape(shape) for (s, e), shape in zip(self._bounds[:L], self.shapes)]
        intercepts = [params[s:e] for s, e in self._bounds[L:]]
        return coefs, intercepts

    def fitted_attributes(self, params):
        """{"coefs_": ..., "intercepts_": ...} of a copy of ``params`` in the objective's dtype (what
        scikit-learn's callbacks rebuild a fitted estimator from)."""
        coefs, intercepts = self.unpack(np.array(params, dtype=self.dtype))
        return {"coefs_": coefs, "intercepts_": intercepts}

    def pack(self, coefs, intercepts):
        """A new flat parameter vector (the objective's dtype) holding ``coefs`` and ``intercepts``."""
        params = np.empty(self.n_params, dtype=self.dtype)
        for dst, src in zip(self.unpack(params), (coefs, intercepts)):
            for d, s in zip(dst, src):
                d[...] = s
        return params

    def targets(self, Y):
        """The targets batch_loss_grad takes for a 0/1 indicator matrix Y (n_samples, n_outputs):
        int64 class labels for softmax, Y in the objective's dtype for sigmoid outputs."""
        if self.out_activation == "softmax":
            return np.argmax(Y, axis=1).astype(np.int64)
        return np.ascontiguousarray(Y, dtype=self.dtype)

    def _layer_buffers(self, m):
        """Activations and deltas (lists of C-contiguous (m, units) arrays, one per weight layer;
        the last activation holds the logits), reused across calls."""
        bufs = self._buffers.get(m)
        if bufs is None:
            if m > self._capacity:
                self._capacity = m
                self._full = ([np.empty((m, u), self.dtype) for u in self.layer_units[1:]],
                              [np.empty((m, u), self.dtype) for u in self.layer_units[1:]])
                self._buffers = {}
            bufs = tuple([a[:m] for a in arrays] for arrays in self._full)
            if len(self._buffers) < 4:
                self._buffers[m] = bufs
        return bufs

    def _threads(self, m):
        """Threads for the elementwise passes over m rows."""
        return self.n_threads if m * max(self.layer_units[1:]) >= _MIN_PARALLEL_ELEMENTS else 1

    def _forward(self, coefs, intercepts, X, acts, nt):
        """Fill acts with the hidden activations and the output logits; returns the logits."""
        a = X
        last = self.n_layers - 1
        for layer, (W, b, z) in enumerate(zip(coefs, intercepts, acts)):
            if sp.issparse(a):
                z[...] = a @ W
            else:
                np.matmul(a, W, out=z)
            _core.bias_layer(z, b, layer < last, nt)
            a = z
        return a

    def decision(self, coefs, intercepts, X):
        """Output logits for the rows of X, shape (n_samples, n_outputs), from the lists of
        coefficient matrices and intercept vectors."""
        acts = [np.empty((X.shape[0], u), self.dtype) for u in self.layer_units[1:]]
        return self._forward(coefs, intercepts, X, acts, self._threads(X.shape[0]))

    def probabilities(self, z, log=False):
        """Probabilities (log=True: their logarithms, without underflow) of the output logits z:
        the softmax over the classes, or the sigmoid of each output, a single output (binary y)
        giving the columns of both classes."""
        if self.out_activation == "softmax":
            return (scipy.special.log_softmax if log else scipy.special.softmax)(z, axis=1)
        sigmoid = _functional.log_sigmoid if log else _functional.sigmoid
        if z.shape[1] == 1:
            return np.column_stack([sigmoid(-z[:, 0]), sigmoid(z[:, 0])])
        return sigmoid(z)

    def batch_loss_grad(self, params, X, target, sw, grad):
        """Forward and backward pass over the rows of X without the penalty term.

        target: int64 class labels (softmax) or a (m, n_outputs) 0/1 matrix (either output; for
        softmax its rows are probabilities).  sw: row weights or None.  Writes the data part of the
        gradient (the weights' part already divided by sum(sw)) into the flat ``grad`` and returns
        (sum_i s_i l_i / sum_i s_i, sum_i s_i); (0, 0) and a zero gradient when sum_i s_i = 0."""
        m = X.shape[0]
        sw_sum = float(m if sw is None else sw.sum(dtype=np.float64))
        if sw_sum <= 0:  # nothing to learn from (a minibatch of zero-weight rows)
            grad[...] = 0
            return 0.0, 0.0
        coefs, intercepts = self.unpack(params)
        gcoefs, gintercepts = self.unpack(grad)
        acts, deltas = self._layer_buffers(m)
        nt, scale = self._threads(m), 1.0 / sw_sum
        logits = self._forward(coefs, intercepts, X, acts, nt)
        if self.out_activation == "softmax":
            labels, probs = (target, None) if target.ndim == 1 else (None, target)
            total, status = _core.softmax_xent(logits, labels, probs, sw, scale, None, deltas[-1], nt)
        else:
            k = logits.shape[1]
            swk = sw
            if sw is not None and k > 1:  # per-element weights of the K outputs, in a reused buffer
                if self._sw_outputs is None or self._sw_outputs.shape[0] < m:
                    self._sw_outputs = np.empty((m, k), self.dtype)
                swk = self._sw_outputs[:m]
                swk[...] = sw[:, None]
                swk = swk.reshape(-1)
            total, status = _core.bce_logits(logits.reshape(-1), target.reshape(-1), swk, 1.0, None,
                                             1.0, scale, None, deltas[-1].reshape(-1), nt)
        if status:
            raise ValueError("Invalid targets or sample weights for the MLP loss.")
        for layer in range(self.n_layers - 1, -1, -1):
            d = deltas[layer]
            if layer == self.n_layers - 1:
                _core.sigmoid_backprop(d, None, gintercepts[layer], nt)
            else:  # delta_l = (delta_{l+1} W_{l+1}^T) * a_l (1 - a_l)
                np.matmul(deltas[layer + 1], coefs[layer + 1].T, out=d)
                _core.sigmoid_backprop(d, acts[layer], gintercepts[layer], nt)
            a_prev = X if layer == 0 else acts[layer - 1]
            if sp.issparse(a_prev):
                gcoefs[layer][...] = a_prev.T @ d
            else:
                np.matmul(a_prev.T, d, out=gcoefs[layer])
        return total * scale, sw_sum

    def penalty(self, sum_sq, sw_sum):
        """The penalty term alpha / 2 * sum ||W||^2 / sum_i s_i, given sum ||W||^2."""
        return 0.5 * self.alpha * sum_sq / sw_sum

    def loss_grad(self, params, X, target, sample_weight=None, grad=None):
        """Full objective and its gradient (flat, packed like params) on the rows of X.  target:
        a 2-D matrix (one-hot or probability rows for softmax, 0/1 indicators for sigmoid
        outputs), or for softmax also the 1-D integer class labels."""
        params = np.ascontiguousarray(params, dtype=self.dtype)
        if grad is None:
            grad = np.empty(self.n_params, dtype=self.dtype)
        if self.out_activation == "softmax" and np.ndim(target) == 1:
            target = np.ascontiguousarray(target, dtype=np.int64)
        else:
            target = np.ascontiguousarray(target, dtype=self.dtype).reshape(X.shape[0], -1)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, self.dtype)
        loss, sw_sum = self.batch_loss_grad(params, X, target, sw, grad)
        if sw_sum <= 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        k = self.n_penalized
        grad[:k] += (self.alpha / sw_sum) * params[:k]
        w = params[:k]
        return loss + self.penalty(float(np.dot(w, w)), sw_sum), grad
