"""SigmoidMLPClassifier: scikit-learn's MLPClassifier(activation="logistic") on sce's kernels."""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import scipy.special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from . import _functional
from ._fit_state import restore_state_on_error
from ._network import MLPObjective
from ._stochastic import SGD, Adam, full_batch_lbfgs, stochastic_epoch
from ._sparse import check_before_conversion, check_csr

_STOCHASTIC_SOLVERS = ("sgd", "adam")
# Warnings raised while training name the line that called fit / partial_fit: they are issued four
# calls below it (_fit_lbfgs or _fit_stochastic <- _fit <- its restore_state_on_error wrapper <- fit /
# partial_fit).
_CALLER = 5


class SigmoidMLPClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier with sigmoid hidden layers.

    A drop-in for ``sklearn.neural_network.MLPClassifier(activation="logistic")``: the same
    parameters, defaults, initialization (Glorot-uniform draws scaled for the sigmoid, in the
    same order from ``random_state``), batch order, optimizers, stopping rules and fitted
    attributes, and the same objective on a batch of rows with weights s_i::

        sum_i s_i * loss_i / sum_i s_i + alpha / 2 * sum_l ||coefs_[l]||^2 / sum_i s_i

    (intercepts not penalized).  The output layer and its loss follow y: binary y gets one
    sigmoid output and multilabel y (an indicator matrix) one per label, both with the binary
    cross-entropy; multiclass y gets a softmax output with the cross-entropy.  The losses are
    computed from the logits by sce's fused kernels, where scikit-learn clips probabilities, so
    ``loss_`` differs from scikit-learn's only when predictions are nearly certain.  The matrix
    products go to numpy's BLAS; bias + sigmoid, loss and backpropagation are one pass each.
    float32 X is trained in float32 (coefficients and arithmetic), as are its predictions.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, or int, default=(100,)
        Number of units of each hidden layer, in order; an int means one hidden layer.  Every
        size must be >= 1.
    activation : {"logistic"}, default="logistic"
        Activation of the hidden layers: the sigmoid ``1 / (1 + exp(-z))``, the only value
        accepted.  Present so that code written for ``MLPClassifier(activation="logistic")``
        runs unchanged.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        Optimizer.  "adam" and "sgd" are stochastic: minibatches of ``batch_size`` rows, one
        step per batch, ``max_iter`` epochs at most; ``partial_fit`` is only available with
        them.  "lbfgs" (scipy's L-BFGS-B on the whole data set) suits small data sets, where it
        often converges faster and better.
    alpha : float, default=0.0001
        Strength of the L2 penalty on the weights (not the intercepts), >= 0; see the objective
        above.
    batch_size : int or "auto", default="auto"
        Minibatch size of the stochastic solvers; "auto" is ``min(200, n_samples)``.  A size
        larger than the number of samples is clipped to it with a UserWarning.  Not used by
        "lbfgs".
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule of "sgd" (only):

        - "constant": ``learning_rate_init`` throughout;
        - "invscaling": after each epoch, ``learning_rate_init / (t_ + 1) ** power_t`` with
          ``t_`` the number of samples seen so far;
        - "adaptive": ``learning_rate_init`` as long as training improves; each time
          ``n_iter_no_change`` consecutive epochs fail to improve the training loss by ``tol``
          (or the validation score by ``tol`` with ``early_stopping``) the step is divided by 5;
          such a plateau once the step is at most 1e-6 stops training.
    learning_rate_init : float, default=0.001
        Initial step size of "sgd" and "adam", > 0.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule of "sgd", >= 0.
    max_iter : int, default=200
        Maximum number of epochs of "sgd" and "adam" (passes over the data), or of iterations
        of "lbfgs", >= 1.  Reaching it before the stopping rule (``tol``) issues a
        ``ConvergenceWarning``.
    shuffle : bool, default=True
        Whether "sgd" and "adam" shuffle the rows before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and intercepts, the shuffling of the rows and the
        train / validation split of ``early_stopping``.  An int gives reproducible fits, and
        the same draws as ``MLPClassifier`` with the same seed.
    tol : float, default=1e-4
        Stopping tolerance, >= 0.  "sgd" and "adam" stop (or, with the "adaptive" schedule,
        divide the step) when for ``n_iter_no_change`` consecutive epochs the training loss has
        not decreased by at least ``tol`` below its best value (with ``early_stopping``: the
        validation score has not risen by at least ``tol`` above its best).  "lbfgs" stops when
        the largest absolute component of the (projected) gradient is at most ``tol``, or when
        an iteration decreases the objective by a relative ~2e-9 or less (scipy's default).
    verbose : bool, default=False
        Print progress: the loss of each epoch (and the validation score with
        ``early_stopping``), or of each "lbfgs" iteration.
    warm_start : bool, default=False
        Whether ``fit`` starts from the previous fit's ``coefs_`` and ``intercepts_`` (with a
        fresh optimizer state) instead of new random weights.  y must then have the classes of
        the previous fit and ``hidden_layer_sizes`` the same layers, or fit raises ValueError.
    momentum : float, default=0.9
        Momentum of the "sgd" updates, in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether "sgd" uses Nesterov's momentum (when ``momentum > 0``).
    early_stopping : bool, default=False
        "sgd" and "adam" only: set aside ``validation_fraction`` of the training rows
        (stratified for binary y), score the accuracy on them after each epoch (weighted by
        ``sample_weight`` when given), stop when it has not risen by ``tol`` for
        ``n_iter_no_change`` consecutive epochs, and end with the weights of the best-scoring
        epoch.  Not supported by ``partial_fit`` (ValueError).
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for ``early_stopping``, in [0, 1); a validation
        set of fewer than 2 rows raises ValueError.
    beta_1 : float, default=0.9
        Decay rate of the first-moment (mean) estimates of "adam", in [0, 1).
    beta_2 : float, default=0.999
        Decay rate of the second-moment estimates of "adam", in [0, 1).
    epsilon : float, default=1e-8
        Term added to the denominator of "adam"'s step for numerical stability, > 0.
    n_iter_no_change : int or np.inf, default=10
        Number of consecutive epochs without improvement by ``tol`` after which "sgd" and
        "adam" stop (or "adaptive" divides the step); ``np.inf`` disables the rule, so they run
        ``max_iter`` epochs.
    max_fun : int, default=15000
        Maximum number of loss evaluations of "lbfgs", >= 1; reaching it issues a
        ``ConvergenceWarning``.
    class_weight : dict, "balanced" or None, default=None
        Not in MLPClassifier.  Multiplies each row's sample weight by the weight of its class,
        as ``class_weight`` of LogisticRegression: a dict {class_label: weight} (missing classes
        weigh 1), or "balanced" for n_samples / (n_classes * count of the class), with
        sample-weighted counts when ``sample_weight`` is given.  Not for multilabel y;
        ``partial_fit`` accepts only a dict (the class counts of later batches are unknown).
    n_threads : int, default=None
        Not in MLPClassifier.  OpenMP threads of sce's elementwise passes (bias + sigmoid, the
        output loss and gradient, backpropagation through the sigmoid) in fit and predict.
        None means one thread; a positive int, or -1 for all cores this process may run on,
        is used by passes over at least 2**18 elements (batch rows * widest layer), smaller
        passes staying on one thread.  The matrix products, most of the work, run on numpy's
        BLAS with its own thread pool (set it with threadpoolctl or, e.g.,
        ``OPENBLAS_NUM_THREADS``).  This differs from LogisticClassifier and the sce functions,
        where None uses the usable cores: here each pass sits between two BLAS products, and
        OpenMP workers still spinning after a pass take the cores the next product's BLAS
        workers need (on a 2-core machine, two-thread passes made Adam epochs over ten times
        slower), hence one thread by default.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multilabel y, the label indices ``0 .. n_labels - 1``).
    coefs_ : list of ndarray, length n_layers_ - 1
        Weight matrices; ``coefs_[i]`` has shape (units of layer i, units of layer i + 1), in
        X's float dtype.  All coefficients and intercepts are views into one parameter vector.
    intercepts_ : list of ndarray, length n_layers_ - 1
        Bias vectors; ``intercepts_[i]`` has shape (units of layer i + 1,).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only set when X has string column names (a
        pandas DataFrame, for instance).
    n_layers_ : int
        Number of layers, input and output layers included (hidden layers + 2).
    n_outputs_ : int
        Number of output units: 1 for binary y, n_classes for multiclass, n_labels for
        multilabel.
    out_activation_ : str
        Output activation: "logistic" (binary and multilabel y) or "softmax" (multiclass).
    loss_ : float
        Objective value at the end of training: for "lbfgs" the whole-data objective (mean
        weighted loss + penalty) of the final weights; for "sgd" / "adam" the last epoch's mean
        over rows of the batch objectives, as in scikit-learn.
    best_loss_ : float or None
        "sgd" / "adam": the smallest ``loss_`` over the epochs, used by the stopping rule; None
        with ``early_stopping`` (the validation score is used instead).  Not set by "lbfgs".
    loss_curve_ : list of float
        "sgd" / "adam": ``loss_`` after each epoch, over all fits and ``partial_fit`` calls
        since the model was initialized.  Not set by "lbfgs".
    validation_scores_ : list of float or None
        "sgd" / "adam" with ``early_stopping``: the validation accuracy after each epoch;
        None without.  Not set by "lbfgs".
    best_validation_score_ : float or None
        "sgd" / "adam" with ``early_stopping``: the best validation accuracy, the one whose
        weights the model ends with; None without.  Not set by "lbfgs".
    t_ : int
        Number of training rows the stochastic solver has processed (epochs * n_samples,
        summed over warm-started fits and ``partial_fit`` calls); 0 for "lbfgs".
    n_iter_ : int
        Epochs run by the last ``fit`` (1 for each ``partial_fit``), or "lbfgs" iterations
        (at least 1).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The scikit-learn estimator this one replaces (with
        ``activation="logistic"``).
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
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"logistic"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_threads": [None, Options(Integral, {-1}), Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="logistic", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, class_weight=None,
                 n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    # ---- fitting ---------------------------------------------------------------------------------

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
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over X, y (solvers "sgd" and "adam" only).

        The first call initializes the model (as ``fit`` would); later calls continue from it,
        with the optimizer's state carried over, so k calls on the whole data equal one fit of
        k epochs with ``shuffle=False``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data of this call.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows; None weighs every row 1.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever appear.  Required on the first call, as in scikit-learn
            (also for a multilabel indicator y); later calls may omit it, and if they pass it, it
            must be the same.

        Returns
        -------
        self : SigmoidMLPClassifier
            The updated estimator.
        """
        self._validate_params()
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' is not supported for partial_fit; pass a "
                             "dict of class weights instead.")
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
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        # One class is accepted, as by scikit-learn: LabelBinarizer gives one all-zero output
        # column, and the network learns to predict that class.
        return X, y, self._label_binarizer.transform(y).astype(bool)

    def _row_weights(self, X, y, sample_weight):
        """sample_weight * class_weight[y] in X's dtype, or None when every row weighs 1."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
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
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype)
        elif [c.shape for c in self.coefs_] != list(zip(layer_units[:-1], layer_units[1:])):
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes} does not match the fitted layers "
                f"{[c.shape[1] for c in self.coefs_[:-1]]}; fit without warm_start."
            )
        obj = MLPObjective(layer_units, self.out_activation_, self.alpha, X.dtype, self.n_threads)
        params = obj.pack(self.coefs_, self.intercepts_)
        self.coefs_, self.intercepts_ = obj.unpack(params)  # views: they follow the training
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(obj, params, X, Y, sw, incremental)
        else:
            self._fit_lbfgs(obj, params, X, Y, sw)
        if not np.isfinite(params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _initialize(self, Y, layer_units, dtype):
        """Fresh model: sklearn's Glorot-uniform draws for the sigmoid, in its order."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = ("softmax" if self._label_binarizer.y_type_ == "multiclass"
                                else "logistic")
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(2.0 / (fan_in + fan_out))
            self.coefs_.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out))
                               .astype(dtype, copy=False))
            self.intercepts_.append(self._random_state.uniform(-bound, bound, fan_out)
                                    .astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _targets(self, Y):
        """What the objective takes: class labels for softmax, a 0/1 matrix for sigmoid outputs."""
        if self.out_activation_ == "softmax":
            return np.argmax(Y, axis=1).astype(np.int64)
        return np.ascontiguousarray(Y, dtype=self.coefs_[0].dtype)

    def _fit_lbfgs(self, obj, params, X, Y, sw):
        res = full_batch_lbfgs(obj, params, X, self._targets(Y), sw, self.tol, self.max_iter,
                               self.max_fun, self.verbose)
        if res.status != 0:
            warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) "
                          f"(status={res.status}): {res.message}. Increase max_iter (or max_fun) "
                          "or scale the data.", ConvergenceWarning, stacklevel=_CALLER)
        self.n_iter_ = max(int(res.nit), 1)
        self.loss_ = float(res.fun)

    def _fit_stochastic(self, obj, params, X, Y, sw, incremental):
        dtype = params.dtype
        if not incremental or not hasattr(self, "_optimizer"):
            if self.solver == "sgd":
                self._optimizer = SGD(obj.n_params, dtype, self.learning_rate_init,
                                      self.learning_rate, self.momentum, self.nesterovs_momentum,
                                      self.power_t)
            else:
                self._optimizer = Adam(obj.n_params, dtype, self.learning_rate_init, self.beta_1,
                                       self.beta_2, self.epsilon)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = Y if self.n_outputs_ == 1 else None
            arrays = (X, Y) if sw is None else (X, Y, sw)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, Y_val = split[:4]
            sw, sw_val = (None, None) if sw is None else split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._label_binarizer.inverse_transform(Y_val)
        target = self._targets(Y)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=_CALLER)
            batch_size = int(np.clip(self.batch_size, 1, n))
        grad = np.empty_like(params)
        order = np.arange(n)
        # Ctrl-C stops training with a KeyboardInterrupt and restore_state_on_error puts the model
        # back as it was before this call (scikit-learn instead keeps the model trained so far).
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            if self.shuffle:  # the permutation sklearn.utils.shuffle draws
                perm = np.arange(n)
                self._random_state.shuffle(perm)
                order = order[perm]
            self.loss_ = stochastic_epoch(obj, params, grad, self._optimizer, X, target, sw,
                                          batch_size, order if self.shuffle else None)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if early_stopping:
                self._update_validation(X_val, y_val, sw_val)
            else:
                self._update_training_loss()
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
                if self._optimizer.trigger_stopping(msg, self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                    "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=_CALLER)
        if early_stopping:
            for dst, src in zip(self.coefs_ + self.intercepts_,
                                self._best_coefs + self._best_intercepts):
                dst[...] = src

    def _update_validation(self, X_val, y_val, sw_val):
        score = accuracy_score(y_val, self._predict(X_val), sample_weight=sw_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_coefs = [c.copy() for c in self.coefs_]
            self._best_intercepts = [b.copy() for b in self.intercepts_]

    def _update_training_loss(self):
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    # ---- prediction ------------------------------------------------------------------------------

    def _decision(self, X, check_input=True):
        if check_input:
            check_before_conversion(X)
            # validated as scikit-learn does (any numeric dtype, so the same errors), then in the
            # network's dtype for the kernels
            X = validate_data(self, X, accept_sparse="csr", reset=False)
            dtype = self.coefs_[0].dtype
            X = X.astype(dtype, copy=False) if sp.issparse(X) else np.ascontiguousarray(X, dtype=dtype)
            check_csr(X)
        units = [self.n_features_in_] + [b.shape[0] for b in self.intercepts_]
        obj = MLPObjective(units, self.out_activation_, self.alpha, self.coefs_[0].dtype,
                           self.n_threads)
        return obj.decision(self.coefs_, self.intercepts_, X)

    def _predict(self, X, check_input=False):
        z = self._decision(X, check_input)
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
        return self._predict(X, check_input=True)

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
        z = self._decision(X)
        if self.out_activation_ == "softmax":
            return scipy.special.softmax(z, axis=1)
        if self.n_outputs_ == 1:
            return np.column_stack([_functional.sigmoid(-z[:, 0]), _functional.sigmoid(z[:, 0])])
        return _functional.sigmoid(z)

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
        z = self._decision(X)
        if self.out_activation_ == "softmax":
            return scipy.special.log_softmax(z, axis=1)
        if self.n_outputs_ == 1:
            return np.column_stack([_functional.log_sigmoid(-z[:, 0]),
                                    _functional.log_sigmoid(z[:, 0])])
        return _functional.log_sigmoid(z)
