"""SigmoidMLPClassifier: scikit-learn's MLPClassifier(activation="logistic") on sce's kernels."""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.callback._callback_support import CallbackSupportMixin, callback_management_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from . import _dask, _stochastic
from ._callbacks import FitCallbacks
from ._fit_state import restore_state_on_error
from ._network import MLPObjective, initial_weights
from ._sparse import check_before_conversion, check_csr
from ._stochastic import Progress, accuracy_on, batch_rows, full_batch_lbfgs, hold_out, new_optimizer, train_epochs

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_AT_LEAST_1 = Interval(Integral, 1, None, closed="left")
_NON_NEGATIVE = Interval(Real, 0, None, closed="left")
_POSITIVE = Interval(Real, 0, None, closed="neither")
_FRACTION = Interval(Real, 0, 1, closed="left")
# Training's warnings name the caller of fit / partial_fit (via _fit, restore_state_on_error, fit).
_CALLER = 5


class SigmoidMLPClassifier(CallbackSupportMixin, _stochastic.ProgressAttributes, ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier with sigmoid hidden layers.

    A drop-in for ``sklearn.neural_network.MLPClassifier(activation="logistic")``: the same parameters,
    defaults, initialization (Glorot-uniform draws scaled for the sigmoid, in the same order from
    ``random_state``), batch order, optimizers, stopping rules and fitted attributes, and the same
    objective on a batch of rows with weights s_i (intercepts not penalized)::

        sum_i s_i * loss_i / sum_i s_i + alpha / 2 * sum_l ||coefs_[l]||^2 / sum_i s_i

    Binary y gets one sigmoid output and multilabel y (an indicator matrix) one per label, both with
    the binary cross-entropy; multiclass y a softmax output with the cross-entropy, taken from the
    logits by sce's kernels where scikit-learn clips probabilities (``loss_`` differs only for nearly
    certain predictions).  float32 X is trained (coefficients and arithmetic) and predicted in float32.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, or int, default=(100,)
        Number of units of each hidden layer, in order, each >= 1; an int means one hidden layer.
    activation : {"logistic"}, default="logistic"
        The sigmoid ``1 / (1 + exp(-z))`` of the hidden layers, the only value accepted, so that code
        written for ``MLPClassifier(activation="logistic")`` runs unchanged.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Optimizer.  "adam" and "sgd" are stochastic (minibatches of ``batch_size`` rows, one step per
        batch, ``max_iter`` epochs at most) and offer ``partial_fit``.  "lbfgs" (scipy's L-BFGS-B on
        the whole data set) often converges faster and better on small data sets.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the intercepts), >= 0; see the objective above.
    batch_size : int or "auto", default="auto"
        Minibatch size of "sgd" and "adam"; "auto" is ``min(200, n_samples)``.  A size larger than
        the number of samples is clipped to it with a UserWarning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule of "sgd" (only): "constant" keeps ``learning_rate_init``; "invscaling"
        sets it to ``learning_rate_init / (t_ + 1) ** power_t`` after each epoch (``t_``: samples
        seen so far); "adaptive" divides it by 5 each time training stops improving (see ``tol``),
        and stops training at such a plateau once the step is at most 1e-6.
    learning_rate_init : float, default=0.001
        Initial step size of "sgd" and "adam", > 0.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule of "sgd", >= 0.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data) of "sgd" and "adam", or of iterations of
        "lbfgs", >= 1.  Reaching it before the stopping rule (``tol``) issues a ConvergenceWarning.
    shuffle : bool, default=True
        Whether "sgd" and "adam" shuffle the rows before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split of ``early_stopping``.  An
        int gives reproducible fits, and the same draws as ``MLPClassifier`` with the same seed.
    tol : float, default=1e-4
        Stopping tolerance, >= 0.  "sgd" and "adam" stop (or, "adaptive", divide the step) when for
        ``n_iter_no_change`` consecutive epochs the training loss has not fallen ``tol`` below its
        best (with ``early_stopping``: the validation score has not risen ``tol`` above its best).
        "lbfgs" stops when the largest absolute component of the (projected) gradient is at most
        ``tol``, or an iteration decreases the objective by a relative ~2e-9 or less (scipy's).
    verbose : bool, default=False
        Print the loss (and validation score) of each epoch, or of each "lbfgs" iteration.
    warm_start : bool, default=False
        Whether ``fit`` starts from the previous ``coefs_`` and ``intercepts_`` (with a fresh
        optimizer) instead of new random weights.  y must then have the previous classes and
        ``hidden_layer_sizes`` the same layers, or fit raises ValueError.
    momentum : float, default=0.9
        Momentum of the "sgd" updates, in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether "sgd" uses Nesterov's momentum (when ``momentum > 0``).
    early_stopping : bool, default=False
        "sgd" and "adam": hold out ``validation_fraction`` of the rows (stratified for binary y),
        score the accuracy on them after each epoch (weighted by ``sample_weight``), stop when it
        has not risen by ``tol`` for ``n_iter_no_change`` consecutive epochs, and end with the
        weights of the best-scoring epoch.  ``partial_fit`` raises ValueError.
    validation_fraction : float, default=0.1
        Fraction of the rows held out by ``early_stopping``, in [0, 1) (ValueError below 2 rows).
    beta_1 : float, default=0.9
        Decay rate of the first-moment (mean) estimates of "adam", in [0, 1).
    beta_2 : float, default=0.999
        Decay rate of the second-moment estimates of "adam", in [0, 1).
    epsilon : float, default=1e-8
        Term added to the denominator of "adam"'s step for numerical stability, > 0.
    n_iter_no_change : int or np.inf, default=10
        Consecutive epochs without improvement by ``tol`` after which "sgd" and "adam" stop (or
        "adaptive" divides the step); ``np.inf`` disables the rule (``max_iter`` epochs are run).
    max_fun : int, default=15000
        Maximum number of loss evaluations of "lbfgs", >= 1; reaching it issues a ConvergenceWarning.
    class_weight : dict, "balanced" or None, default=None
        Not in MLPClassifier.  Multiplies each row's sample weight by its class's weight, as in
        LogisticRegression: {class_label: weight} (missing classes weigh 1), or "balanced" for
        n_samples / (n_classes * (sample-weighted) count of the class).  Not for multilabel y, and
        only a dict for ``partial_fit``.
    n_threads : int, default=None
        Not in MLPClassifier.  OpenMP threads of sce's passes over at least 2**18 elements (batch
        rows * widest layer) between the matrix products: a positive int, -1 for all usable cores,
        or None for one, unlike LogisticClassifier: the products (most of the work, on numpy's BLAS
        and its thread pool, see threadpoolctl) need the cores that OpenMP workers still spinning
        would hold (on 2 cores two-thread passes made Adam epochs over ten times slower).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multilabel y, the label indices ``0 .. n_labels - 1``).
    coefs_ : list of ndarray, length n_layers_ - 1
        Weight matrices, ``coefs_[i]`` of shape (units of layer i, units of layer i + 1), in X's
        float dtype.  All coefficients and intercepts are views into one parameter vector.
    intercepts_ : list of ndarray, length n_layers_ - 1
        Bias vectors; ``intercepts_[i]`` has shape (units of layer i + 1,).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only set when X has string column names.
    n_layers_ : int
        Number of layers, input and output layers included (hidden layers + 2).
    n_outputs_ : int
        Output units: 1 for binary y, n_classes for multiclass, n_labels for multilabel.
    out_activation_ : str
        Output activation: "logistic" (binary and multilabel y) or "softmax" (multiclass).
    loss_ : float
        Objective at the end of training: for "lbfgs" the whole-data objective of the final weights;
        for "sgd" / "adam" the last epoch's mean over rows of the batch objectives (as scikit-learn).
    best_loss_ : float or None
        "sgd" / "adam": the smallest ``loss_`` (stopping rule); None with ``early_stopping``.
    loss_curve_ : list of float
        "sgd" / "adam": ``loss_`` after each epoch since the model was initialized (warm-started
        fits and ``partial_fit`` calls add to it).
    validation_scores_ : list of float or None
        "sgd" / "adam": the validation accuracy after each epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        "sgd" / "adam": the best of them, whose weights the model ends with; else None.
    t_ : int
        Rows processed by "sgd" / "adam" since the model was initialized (epochs * n_samples); 0 for
        "lbfgs", which sets none of the four attributes above.
    n_iter_ : int
        Epochs run by the last ``fit`` (1 for each ``partial_fit``), or "lbfgs" iterations (>= 1).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The scikit-learn estimator this one replaces.
    LogisticClassifier : Logistic regression, the convex model without hidden layers.
    sigmoid : The activation of the hidden layers.
    bce_with_logits : The loss of binary and multilabel outputs.
    softmax_cross_entropy : The loss of multiclass outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sce import SigmoidMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SigmoidMLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=1.0,
    ...                            random_state=0).fit(X, y)
    >>> clf.out_activation_, [c.shape for c in clf.coefs_]
    ('softmax', [(4, 8), (8, 3)])
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> np.round(clf.predict_proba(X[[0, 50, 100]]), 2)
    array([[0.97, 0.02, 0.  ],
           [0.02, 0.87, 0.11],
           [0.  , 0.03, 0.97]])

    The same model as scikit-learn's, from the same seed:

    >>> from sklearn.neural_network import MLPClassifier
    >>> ref = MLPClassifier(hidden_layer_sizes=(8,), activation="logistic", solver="lbfgs",
    ...                     alpha=1.0, random_state=0).fit(X, y)
    >>> np.allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    True

    Stochastic solvers also learn incrementally, one epoch per ``partial_fit`` call:

    >>> online = SigmoidMLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    >>> for _ in range(3):
    ...     online = online.partial_fit(X, y, classes=[0, 1, 2])
    >>> online.t_, len(online.loss_curve_)
    (450, 3)
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", _AT_LEAST_1], "activation": [StrOptions({"logistic"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})], "alpha": [_NON_NEGATIVE],
        "batch_size": [StrOptions({"auto"}), _AT_LEAST_1], "max_iter": [_AT_LEAST_1],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})], "power_t": [_NON_NEGATIVE],
        "learning_rate_init": [_POSITIVE], "shuffle": ["boolean"], "random_state": ["random_state"],
        "tol": [_NON_NEGATIVE], "verbose": ["verbose"], "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")], "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"], "validation_fraction": [_FRACTION], "beta_1": [_FRACTION],
        "beta_2": [_FRACTION], "epsilon": [_POSITIVE], "max_fun": [_AT_LEAST_1],
        "n_iter_no_change": [_AT_LEAST_1, Options(Real, {np.inf})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_threads": [None, Options(Integral, {-1}), _AT_LEAST_1],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="logistic", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, n_threads=None):
        self.hidden_layer_sizes, self.activation, self.solver = hidden_layer_sizes, activation, solver
        self.alpha, self.batch_size, self.learning_rate = alpha, batch_size, learning_rate
        self.learning_rate_init, self.power_t, self.max_iter = learning_rate_init, power_t, max_iter
        self.shuffle, self.random_state, self.tol, self.verbose = shuffle, random_state, tol, verbose
        self.warm_start, self.momentum, self.nesterovs_momentum = warm_start, momentum, nesterovs_momentum
        self.early_stopping, self.validation_fraction = early_stopping, validation_fraction
        self.beta_1, self.beta_2, self.epsilon, self.max_fun = beta_1, beta_2, epsilon, max_fun
        self.n_iter_no_change, self.class_weight, self.n_threads = n_iter_no_change, class_weight, n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X, y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, dense or sparse (converted to CSR).  float32 is kept and trained in
            float32; other dtypes become float64.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows (at least one non-zero); None weighs every row 1.

        Returns
        -------
        self : SigmoidMLPClassifier
            The fitted estimator.
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over X, y (solvers "sgd" and "adam" only).

        The first call initializes the model (as ``fit`` would); later calls continue from it with
        the optimizer's state: k calls on the data equal a fit of k epochs with ``shuffle=False``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data; a row-chunked dask array is taken chunk by chunk, each on its worker.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever appear: required on the first call (also for a multilabel
            indicator y), as in scikit-learn; later calls may omit it or pass the same.

        Returns
        -------
        self : SigmoidMLPClassifier
            The updated estimator.
        """
        self._validate_params()
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported for partial_fit; pass a "
                             "dict of class weights instead.")
        if _dask.is_dask_collection(X):  # the chunks in order, each where it lives (sce._dask)
            return _dask.partial_fit(self, X, y, sample_weight, classes)
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        dtype = [np.float64, np.float32] if reset else self.coefs_[0].dtype
        check_before_conversion(X)
        X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True, dtype=dtype,
                             order="C", reset=reset)
        check_csr(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as in "
                                 f"the previous call to fit. Previously got {self.classes_}, `y` has "
                                 f"{classes}")
            if not self.warm_start and len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        # One class is accepted, as by scikit-learn: LabelBinarizer gives one all-zero output
        # column, and the network learns to predict that class.
        return X, y, self._label_binarizer.transform(y).astype(bool)

    def _row_weights(self, X, y, sample_weight):
        """sample_weight * class_weight[y] in X's dtype, or None when every row weighs 1."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
            if not np.any(sample_weight):
                raise ValueError("Sample weights must contain at least one non-zero number.")
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multilabel y.")
        cw = compute_class_weight(self.class_weight, classes=self.classes_, y=y,
                                  sample_weight=sample_weight).astype(X.dtype)
        w = cw[np.searchsorted(self.classes_, y)]
        return w if sample_weight is None else w * sample_weight

    @restore_state_on_error
    def _fit(self, X, y, sample_weight, incremental):
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y, Y = self._validate_input(X, y, incremental, reset=first_pass)
        sw = self._row_weights(X, y, sample_weight)
        layer_units = [X.shape[1], *hidden, Y.shape[1]]
        # one stream of draws per call, in scikit-learn's order: initial weights, validation split,
        # then a permutation per epoch
        rng = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype, rng)
        elif [c.shape for c in self.coefs_] != list(zip(layer_units[:-1], layer_units[1:])):
            raise ValueError(f"hidden_layer_sizes={self.hidden_layer_sizes} does not match the fitted "
                             f"layers {[c.shape[1] for c in self.coefs_[:-1]]}; fit without warm_start.")
        obj = MLPObjective(layer_units, self.out_activation_, self.alpha, X.dtype, self.n_threads)
        params = obj.pack(self.coefs_, self.intercepts_)
        self.coefs_, self.intercepts_ = obj.unpack(params)  # views: they follow the training
        with callback_management_context(self):  # epochs (L-BFGS iterations) are the fit's subtasks
            callbacks = FitCallbacks(self, X, y, sample_weight, obj.fitted_attributes, "epoch",
                                     max(self.max_iter, 1) + 1, params)
            fit = self._fit_stochastic if self.solver in _STOCHASTIC_SOLVERS else self._fit_lbfgs
            fit(obj, params, X, Y, sw, incremental, rng, callbacks.step)
            callbacks.end_last()
            if not np.isfinite(params).all():
                raise ValueError("Solver produced non-finite parameter weights. The input data may "
                                 "contain large values and need to be preprocessed.")
            callbacks.end_fit()
        return self

    def _initialize(self, Y, layer_units, dtype, rng):
        """Attributes of a fresh model, with scikit-learn's initial weights drawn from rng."""
        self.n_iter_, self.t_, self.n_outputs_, self.n_layers_ = 0, 0, Y.shape[1], len(layer_units)
        self.out_activation_ = "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"
        self.coefs_, self.intercepts_ = initial_weights(layer_units, dtype, rng)
        if self.solver in _STOCHASTIC_SOLVERS:
            self._progress = Progress.start(scored=self.early_stopping)

    def _fit_lbfgs(self, obj, params, X, Y, sw, incremental, rng, on_iteration):
        res = full_batch_lbfgs(obj, params, X, obj.targets(Y), sw, self.tol, self.max_iter,
                               self.max_fun, self.verbose, on_iteration)
        if res.status != 0:
            warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) "
                          f"(status={res.status}): {res.message}. Increase max_iter (or max_fun) "
                          "or scale the data.", ConvergenceWarning, stacklevel=_CALLER)
        self.n_iter_, self.loss_ = max(int(res.nit), 1), float(res.fun)

    def _fit_stochastic(self, obj, params, X, Y, sw, incremental, rng, on_epoch):
        progress = self._progress
        if not incremental or progress.optimizer is None:
            progress.optimizer = new_optimizer(self.solver, obj.n_params, obj.dtype, self.get_params())
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        score = None
        if self.early_stopping:
            (X, Y, sw), (X_val, Y_val, sw_val) = hold_out(X, Y, sw, self.validation_fraction,
                                                          self.n_outputs_ == 1, rng)
            score = accuracy_on(obj, X_val, self._label_binarizer.inverse_transform(Y_val), sw_val,
                                self._labels)
        batch_size, clipped = batch_rows(self.batch_size, X.shape[0])
        if clipped:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to "
                          "be clipped", stacklevel=_CALLER)
        # Ctrl-C stops training with a KeyboardInterrupt and restore_state_on_error puts the model
        # back as it was before this call (scikit-learn instead keeps the model trained so far).
        self._progress, run = train_epochs(
            obj, params, X, obj.targets(Y), sw, progress, rng, batch_size=batch_size,
            max_iter=self.max_iter, tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle, verbose=self.verbose, incremental=incremental, score=score, on_epoch=on_epoch)
        self.n_iter_, self.loss_, self.t_ = run.n_iter, run.loss, progress.t
        self.loss_curve_, self.best_loss_, self.validation_scores_, self.best_validation_score_ = (
            progress.loss_curve, progress.best_loss, progress.validation_scores, progress.best_validation_score)
        if run.max_iter_reached:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                          "the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=_CALLER)

    def _decision(self, X):
        """Output logits of the validated X."""
        check_before_conversion(X)
        # validated as scikit-learn does (any numeric dtype: the same errors), then cast for the kernels
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        dtype = self.coefs_[0].dtype
        X = X.astype(dtype, copy=False) if sp.issparse(X) else np.ascontiguousarray(X, dtype=dtype)
        check_csr(X)
        return self._network().decision(self.coefs_, self.intercepts_, X)

    def _network(self):
        """The fitted network's objective (for its forward pass and output probabilities)."""
        units = [self.n_features_in_] + [b.shape[0] for b in self.intercepts_]
        return MLPObjective(units, self.out_activation_, self.alpha, self.coefs_[0].dtype, self.n_threads)

    def _labels(self, z):
        """Class labels (or the indicator matrix of multilabel y) of the output logits z."""
        if self.out_activation_ == "softmax":
            return self.classes_[np.argmax(z, axis=1)]
        hard = (z > 0).astype(np.int64)
        return self._label_binarizer.inverse_transform(hard.ravel() if self.n_outputs_ == 1 else hard)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels; for multilabel y an indicator matrix (probability > 1/2).
        """
        check_is_fitted(self)
        return self._labels(self._decision(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Probability of each class, columns in the order of ``classes_``; for multilabel y
            the probability of each label (rows need not sum to 1).
        """
        check_is_fitted(self)
        return self._network().probabilities(self._decision(X))

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed from the logits without underflow.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Log-probability of each class (or label), finite where ``log(predict_proba(X))``
            would give ``-inf``.
        """
        check_is_fitted(self)
        return self._network().probabilities(self._decision(X), log=True)
