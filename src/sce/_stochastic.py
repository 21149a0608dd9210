"""Optimizers of the network objective (sce/_network.py): Adam and SGD with the minibatch epoch that
drives them, and full-batch L-BFGS.

They follow scikit-learn's MLP (same hyper-parameters, same schedules); the update of a step is one
pass of the kernels over the flat parameter vector, the L2 term included.
"""
import numpy as np
import scipy.optimize
import scipy.sparse as sp

from . import _core


class Adam:
    """Adam with the bias corrections folded into the step size."""

    def __init__(self, n_params, dtype, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate_init = self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)
        self.t = 0

    def step(self, params, grad, n_penalized, l2):
        self.t += 1
        lr_t = (self.learning_rate_init * np.sqrt(1.0 - self.beta_2**self.t)
                / (1.0 - self.beta_1**self.t))
        return _core.adam_step(params, grad, self.m, self.v, n_penalized, l2, lr_t, self.beta_1,
                               self.beta_2, self.epsilon)

    def iteration_ends(self, time_step):
        pass

    def trigger_stopping(self, msg, verbose):
        if verbose:
            print(msg + " Stopping.")
        return True


class SGD:
    """SGD with (Nesterov) momentum and the schedules 'constant', 'invscaling', 'adaptive'."""

    def __init__(self, n_params, dtype, learning_rate_init, schedule, momentum, nesterov, power_t):
        self.learning_rate_init = self.learning_rate = float(learning_rate_init)
        self.schedule, self.momentum = schedule, float(momentum)
        self.nesterov, self.power_t = bool(nesterov), float(power_t)
        self.u = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_penalized, l2):
        return _core.sgd_step(params, grad, self.u, n_penalized, l2, self.learning_rate,
                              self.momentum, self.nesterov)

    def iteration_ends(self, time_step):
        """time_step: samples seen so far."""
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """At a plateau: stop, or with the 'adaptive' schedule divide the rate by 5 until 1e-6."""
        if self.schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


def stochastic_epoch(obj, params, grad, optimizer, X, target, sw, batch_size, order=None):
    """One pass over the rows of X in batches of batch_size, in the order of the index array
    ``order`` (None: as stored), one optimizer step per batch.  Returns the mean over rows of the
    batch objectives (data term + penalty / batch weight), as scikit-learn's ``loss_``."""
    n = X.shape[0]
    dense = not sp.issparse(X)
    if order is not None and dense:  # gathered batches go into reused buffers
        xbuf = np.empty((min(batch_size, n),) + X.shape[1:], dtype=X.dtype)
        tbuf = np.empty((min(batch_size, n),) + target.shape[1:], dtype=target.dtype)
    if order is not None and sw is not None:
        swbuf = np.empty(min(batch_size, n), dtype=sw.dtype)
    total = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if order is None:
            Xb, tb = X[start:stop], target[start:stop]
            swb = None if sw is None else sw[start:stop]
        else:
            idx = order[start:stop]
            if dense:
                Xb = np.take(X, idx, axis=0, out=xbuf[: stop - start], mode="clip")
                tb = np.take(target, idx, axis=0, out=tbuf[: stop - start], mode="clip")
            else:
                Xb, tb = X[idx], target[idx]
            swb = None if sw is None else np.take(sw, idx, out=swbuf[: stop - start], mode="clip")
        loss, sw_sum = obj.batch_loss_grad(params, Xb, tb, swb, grad)
        if sw_sum > 0:  # a batch of zero-weight rows moves nothing
            sq = optimizer.step(params, grad, obj.n_penalized, obj.alpha / sw_sum)
            total += (loss + obj.penalty(sq, sw_sum)) * (stop - start)
    return total / n


def full_batch_lbfgs(obj, params, X, target, sw, gtol, max_iter, max_fun, verbose=0):
    """scipy's L-BFGS-B on the whole-data objective (data term + penalty) of the MLP, with
    scikit-learn's MLP options (gtol, maxiter, maxfun); params is updated in place.  Returns
    scipy's OptimizeResult."""
    grad = np.empty_like(params)

    def fun(x):
        f, g = obj.loss_grad(x, X, target, sw, grad)
        return f, g.astype(np.float64)

    def report(intermediate_result):
        print(f"lbfgs iteration, loss = {intermediate_result.fun:.8f}")

    res = scipy.optimize.minimize(
        fun, params.astype(np.float64), jac=True, method="L-BFGS-B",
        callback=report if verbose else None,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": gtol},
    )
    params[...] = res.x
    return res
