"""Newton-Cholesky reusing a Hessian it has: the stop from the last factored Hessian, and the
start of a regularization path's next point from the quadratic model of the last one (or, for a
solver that leaves no Hessian, from the secant through the last two)."""
import numpy as np
import pytest
from sklearn.datasets import make_classification

from sce._logistic_objective import LogisticObjective
from sce._logistic_path import null_model, predicted_start, secant_start, value_at
from sce._solve import solve


def _objective(C, n_redundant=0):
    X, y = make_classification(3000, 40, n_informative=10, n_redundant=n_redundant, random_state=3)
    return LogisticObjective(X, y.astype(np.float64), np.ones(len(y)), C, True, 2, None)


def _counting_hess(obj):
    calls = []
    hess = obj.hess

    def counted(curvature):
        calls.append(1)
        return hess(curvature)
    obj.hess = counted
    return calls


def _optimum(obj):
    return solve("newton-cholesky", obj, np.zeros(obj.size), 1e-10, 100).f


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("n_redundant", [0, 4])  # 4: collinear columns
def test_stop_from_the_last_hessian_keeps_the_gap(C, n_redundant):
    obj = _objective(C, n_redundant)
    f_star = _optimum(_objective(C, n_redundant))
    grams = _counting_hess(obj)
    res = solve("newton-cholesky", obj, np.zeros(obj.size), 1e-4, 100)
    assert res.converged
    # as close as tol = 1e-4 promises (a relative gap of about tol**2), with room
    assert (res.f - f_star) / abs(f_star) <= 1e-10
    if C == 0.01:
        # here the decrement fell fast enough that the last step was taken without forming the
        # Hessian at its start point (at the other C, the last Hessian's estimate, divided by the
        # curvature floor, was above tol**2 and the Hessian was formed)
        assert len(grams) == res.n_iter - 1


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("scale", [0.1, 3.0])  # a small step; a large one (rows' curvature collapses)
def test_curvature_floor_bounds_the_new_hessian(n_classes, scale):
    """H(x1) - m H(x0) is positive semidefinite for m = the curvature floor, the bound newton-cholesky
    uses to stop from an old Hessian; the held-out rows of a fold (weight 0) are skipped."""
    rng = np.random.default_rng(n_classes)
    X, y = make_classification(400, 6, n_informative=4, n_classes=n_classes, random_state=1)
    sw = rng.random(len(y)) + 0.5
    sw[:100] = 0.0
    K = n_classes if n_classes > 2 else 1
    obj = LogisticObjective(X, y if K > 1 else y.astype(np.float64), sw, 1.0, True, n_classes, None)
    x0 = rng.standard_normal(obj.size)
    x1 = x0 + scale * rng.standard_normal(obj.size)
    c0, c1 = obj.evaluate(x0)[2], obj.evaluate(x1)[2]
    m = obj.curvature_floor(c1, c0)
    assert 0 < m < 1
    # the loss Hessians alone (the penalty is the same at both points)
    H0 = obj.hess(c0) - np.diag(obj.penalty_diagonal())
    H1 = obj.hess(c1) - np.diag(obj.penalty_diagonal())
    assert np.linalg.eigvalsh(H1 - m * H0).min() >= -1e-10 * np.abs(H0).max()
    # a rougher bound would do too, a larger m would not (for some row the bound is tight)
    too_large = min(1.0, 1.5 * m)
    if K == 1:
        assert (c1 - too_large * c0)[sw > 0].min() < 0
    assert obj.curvature_floor(c0, c0) == 1.0


@pytest.mark.parametrize("C, C_next", [(1e-3, 8e-3), (0.5, 4.0), (30.0, 240.0)])
def test_predicted_start_is_near_the_next_optimum(C, C_next):
    obj, next_obj = _objective(C), _objective(C_next)
    res = solve("newton-cholesky", obj, np.zeros(obj.size), 1e-4, 100)
    f_star = _optimum(_objective(C_next))
    z, model = predicted_start(obj, res, next_obj)
    gap_of_x = next_obj.loss_grad(res.x)[0] - f_star
    gap_of_z = next_obj.loss_grad(z)[0] - f_star
    assert gap_of_z <= 0.1 * gap_of_x, (gap_of_z, gap_of_x)
    # the model's Hessian lets the next fit start without forming one when z is close enough
    grams = _counting_hess(next_obj)
    fit = solve("newton-cholesky", next_obj, z, 1e-4, 100, start_hessian=model)
    assert fit.converged and (fit.f - f_star) / abs(f_star) <= 1e-10
    assert len(grams) <= fit.n_iter - 1


def test_no_model_without_a_hessian():
    obj, next_obj = _objective(1.0), _objective(8.0)
    res = solve("newton-cg", obj, np.zeros(obj.size), 1e-4, 100)
    z, model = predicted_start(obj, res, next_obj)
    assert model is None and z is res.x


def _separable_objective(C):
    X, y = make_classification(600, 30, n_informative=20, class_sep=3.0, flip_y=0.0, random_state=0)
    return LogisticObjective(X, y.astype(np.float64), np.ones(len(y)), C, True, 2, None)


@pytest.mark.parametrize("Cs", [(10.0, 80.0, 640.0), (1e-3, 8e-3, 64e-3)])
def test_secant_start_is_never_worse_than_the_last_solution(Cs, monkeypatch):
    """Nearly separable data at large C: the solution grows along the same direction, and the
    secant start is nearer the next optimum than the last solution; at small C, wherever it
    lands, the start is the lower of the two.  The last solution's value under the next objective
    comes without a pass over X: it equals the objective's own."""
    objs = [_separable_objective(C) for C in Cs]
    fits = [solve("newton-cg", obj, np.zeros(obj.size), 1e-8, 100) for obj in objs[:2]]
    f_star = solve("newton-cg", _separable_objective(Cs[2]), np.zeros(objs[2].size), 1e-10, 100).f
    values = []
    loss_grad = objs[2].loss_grad

    def recorded(x):
        values.append((x, loss_grad(x)[0]))
        return loss_grad(x)
    monkeypatch.setattr(objs[2], "loss_grad", recorded)
    z = secant_start((Cs[0], fits[0].x), (Cs[1], (objs[1], fits[1])), objs[2], Cs[2])
    assert len(values) == 1  # the candidate only
    f_last = loss_grad(fits[1].x)[0]
    f_z = loss_grad(z)[0]
    assert f_z <= f_last
    if Cs[0] == 10.0:
        assert z is not fits[1].x and (f_z - f_star) <= 0.5 * (f_last - f_star)
    # the last solution's value without a pass
    assert value_at(objs[1], fits[1], objs[2]) == pytest.approx(f_last, rel=1e-13)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_null_model_is_the_intercept_only_optimum(n_classes):
    """The path's first start: W = 0 and the intercepts of the weighted class frequencies, which
    an intercept-only fit reaches (C -> 0 leaves W at 0)."""
    weights = [0.7] + [0.3 / (n_classes - 1)] * (n_classes - 1)
    X, y = make_classification(2000, 8, n_informative=4, n_classes=n_classes, weights=weights, random_state=0)
    sw = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    targets = y if n_classes > 2 else y.astype(np.float64)
    obj = LogisticObjective(X, targets, sw, 1e-12, True, n_classes, None)
    obj.sums_at_zero = obj.block_sums_at_zero()
    start = null_model(obj)
    assert not start[: obj.n_coef].any()
    # the gradient of the weighted loss in the intercepts vanishes there
    _, g = obj.loss_grad(start)
    assert np.max(np.abs(g[obj.n_coef:])) <= 1e-9 * 1e-12 * sw.sum()
    counts = np.bincount(y, weights=sw)
    expected = np.log(counts) - np.log(counts).mean() if n_classes > 2 else [np.log(counts[1] / counts[0])]
    np.testing.assert_allclose(start[obj.n_coef:], expected, rtol=1e-12)


def test_null_model_without_weight_in_a_class_is_zero():
    X, y = make_classification(200, 4, random_state=0)
    sw = np.where(y == 1, 0.0, 1.0)  # a fold without class 1
    obj = LogisticObjective(X, y.astype(np.float64), sw, 1.0, True, 2, None)
    obj.sums_at_zero = obj.block_sums_at_zero()
    assert not null_model(obj).any()
