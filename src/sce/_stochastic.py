"""Solvers of the network objective (sce/_network.py): Adam and SGD, the minibatch epoch that
drives them and the epoch loop with its stopping rule; full-batch L-BFGS.

They follow scikit-learn's MLP (same hyper-parameters, same schedules, same random draws in the same
order); the update of a step is one pass of the kernels over the flat parameter vector, the L2 term
included.  What training carries from one call to the next (the optimizer's moments and step size,
the loss curve, the best score so far, ...) is a Progress value the caller hands in and gets back.
"""
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from . import _core
from ._core import check_signals


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
        check_signals()
        loss, sw_sum = obj.batch_loss_grad(params, Xb, tb, swb, grad)
        if sw_sum > 0:  # a batch of zero-weight rows moves nothing
            sq = optimizer.step(params, grad, obj.n_penalized, obj.alpha / sw_sum)
            total += (loss + obj.penalty(sq, sw_sum)) * (stop - start)
    return total / n


def new_optimizer(solver, n_params, dtype, hp):
    """A fresh "sgd" or "adam" optimizer for n_params parameters in dtype, its hyper-parameters
    taken from the mapping hp (the estimator's parameters, named as in scikit-learn's MLP)."""
    if solver == "sgd":
        return SGD(n_params, dtype, hp["learning_rate_init"], hp["learning_rate"], hp["momentum"],
                   hp["nesterovs_momentum"], hp["power_t"])
    return Adam(n_params, dtype, hp["learning_rate_init"], hp["beta_1"], hp["beta_2"], hp["epsilon"])


def hold_out(X, Y, sw, fraction, stratify, rng):
    """scikit-learn's early-stopping split of the rows, drawn from rng (stratified by Y when
    ``stratify``): ((X, Y, sw) of training, (X, Y, sw) of validation), sw None staying None."""
    arrays = (X, Y) if sw is None else (X, Y, sw)
    split = train_test_split(*arrays, random_state=rng, test_size=fraction,
                             stratify=Y if stratify else None)
    if split[1].shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the "
                         "size of your dataset.")
    sw, sw_val = (None, None) if sw is None else split[4:]
    return (split[0], split[2], sw), (split[1], split[3], sw_val)


def accuracy_on(obj, X_val, y_val, sw_val, labels):
    """The early-stopping score: params -> (sw_val-weighted) accuracy on the held-out rows X_val,
    y_val of the network obj with those parameters, ``labels`` turning its logits into labels."""

    def score(params):
        predicted = labels(obj.decision(*obj.unpack(params), X_val))
        return accuracy_score(y_val, predicted, sample_weight=sw_val)

    return score


def batch_rows(batch_size, n):
    """(rows per minibatch, whether an int batch_size had to be clipped to [1, n])."""
    if batch_size == "auto":
        return min(200, n), False
    return int(np.clip(batch_size, 1, n)), batch_size > n


@dataclass
class Progress:
    """Where stochastic training stands: what the estimator keeps between fits (warm start) and
    partial_fit calls, handed to train_epochs and returned updated."""

    optimizer: Optional[Union[Adam, SGD]]  # its moments and current step size (None: none yet)
    t: int  # rows processed so far, over all epochs
    loss_curve: list  # the loss of each epoch
    best_loss: Optional[float]  # the smallest epoch loss; None when a validation score decides
    validation_scores: Optional[list]  # the score of each epoch; None without validation
    best_validation_score: Optional[float]  # the best of them (-inf before the first), or None
    best_params: Optional[np.ndarray]  # with validation: copy of the parameters of the best score
    no_improvement_count: int  # consecutive epochs that did not improve by tol

    @classmethod
    def start(cls, scored):
        """Untrained; ``scored``: epochs will be judged by a validation score, not the loss."""
        return cls(optimizer=None, t=0, loss_curve=[], best_loss=None if scored else np.inf,
                   validation_scores=[] if scored else None,
                   best_validation_score=-np.inf if scored else None, best_params=None,
                   no_improvement_count=0)


class ProgressAttributes:
    """scikit-learn's MLPClassifier names for parts of the training state, which its users and tests
    read: the optimizer and the count of epochs without improvement (an estimator's ``_progress``)."""

    @property
    def _optimizer(self):
        return self._progress.optimizer

    @property
    def _no_improvement_count(self):
        return self._progress.no_improvement_count

    @_no_improvement_count.setter
    def _no_improvement_count(self, count):  # before any training there is nothing to count yet
        if hasattr(self, "_progress"):
            self._progress.no_improvement_count = count


class EpochsRun(NamedTuple):
    n_iter: int  # epochs run by this call
    loss: float  # the last epoch's loss
    max_iter_reached: bool  # max_iter epochs ran without the stopping rule ending training


def _record_loss(progress, loss, tol):
    """Stopping-rule bookkeeping of an epoch judged by its training loss."""
    if loss > progress.best_loss - tol:
        progress.no_improvement_count += 1
    else:
        progress.no_improvement_count = 0
    progress.best_loss = min(progress.best_loss, loss)


def _record_score(progress, score, params, tol, verbose):
    """Stopping-rule bookkeeping of an epoch judged by its validation score: the parameters of the
    best score are kept, to end training with."""
    progress.validation_scores.append(score)
    if verbose:
        print(f"Validation score: {score:f}")
    if score < progress.best_validation_score + tol:
        progress.no_improvement_count += 1
    else:
        progress.no_improvement_count = 0
    if score > progress.best_validation_score:
        progress.best_validation_score = score
        progress.best_params = params.copy()


def train_epochs(obj, params, X, target, sw, progress, rng, *, batch_size, max_iter, tol,
                 n_iter_no_change, shuffle, verbose, incremental=False, score=None, on_epoch=None):
    """Train params (flat, updated in place) by epochs of minibatch steps, as scikit-learn's MLP.

    Up to max_iter epochs (one when ``incremental``: a partial_fit call), each over the rows in a
    new order drawn from ``rng`` when ``shuffle``.  After an epoch its loss, or with ``score`` (a
    callable params -> validation score, for early stopping) the score, is compared with the best
    so far: after more than ``n_iter_no_change`` consecutive epochs without an improvement by tol
    the optimizer stops training (or, SGD's "adaptive" schedule, divides its step).  With
    ``score`` training ends on the parameters of the best score.  ``on_epoch(params)``, when given,
    is called after each epoch.  Returns (progress, EpochsRun); ``progress`` is the one given,
    updated.
    """
    n = X.shape[0]
    grad = np.empty_like(params)
    order = np.arange(n)
    optimizer = progress.optimizer
    n_iter, loss, max_iter_reached = 0, None, False
    if score is not None and progress.best_params is None:
        progress.best_params = params.copy()
    for _ in range(max_iter):
        if shuffle:  # the permutation sklearn.utils.shuffle draws
            perm = np.arange(n)
            rng.shuffle(perm)
            order = order[perm]
        loss = stochastic_epoch(obj, params, grad, optimizer, X, target, sw, batch_size,
                                order if shuffle else None)
        n_iter += 1
        progress.t += n
        progress.loss_curve.append(loss)
        if verbose:
            print(f"Iteration {n_iter}, loss = {loss:.8f}")
        if on_epoch is not None:
            on_epoch(params)
        if score is None:
            _record_loss(progress, loss, tol)
        else:
            _record_score(progress, score(params), params, tol, verbose)
        optimizer.iteration_ends(progress.t)
        if progress.no_improvement_count > n_iter_no_change:
            what = "Training loss" if score is None else "Validation score"
            msg = (f"{what} did not improve more than tol={tol:f} for {n_iter_no_change} "
                   "consecutive epochs.")
            if optimizer.trigger_stopping(msg, verbose):
                break
            progress.no_improvement_count = 0
        if incremental:
            break
        max_iter_reached = n_iter == max_iter
    if score is not None:
        params[...] = progress.best_params
    return progress, EpochsRun(n_iter, loss, max_iter_reached)


def full_batch_lbfgs(obj, params, X, target, sw, gtol, max_iter, max_fun, verbose=0, on_iteration=None):
    """scipy's L-BFGS-B on the whole-data objective (data term + penalty) of the MLP, with
    scikit-learn's MLP options (gtol, maxiter, maxfun); params is updated in place;
    ``on_iteration(x)``, when given, is called after each iteration.  Returns scipy's
    OptimizeResult."""
    grad = np.empty_like(params)

    def fun(x):
        check_signals()
        f, g = obj.loss_grad(x, X, target, sw, grad)
        return f, g.astype(np.float64)

    def report(intermediate_result):
        if verbose:
            print(f"lbfgs iteration, loss = {intermediate_result.fun:.8f}")
        if on_iteration is not None:
            on_iteration(intermediate_result.x)

    res = scipy.optimize.minimize(
        fun, params.astype(np.float64), jac=True, method="L-BFGS-B",
        callback=report if verbose or on_iteration is not None else None,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": gtol},
    )
    params[...] = res.x
    return res
