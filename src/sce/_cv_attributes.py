"""The fitted attributes of LogisticClassifierCV in scikit-learn 1.9's two layouts (legacy: dicts by
class, the chosen values repeated per class; new: arrays), from the arrays of the paths."""
import numpy as np


def fitted_path_attributes(coefs, scores, n_iter, problem, classes, grid, l1_ratios, best_C, best_ratio,
                           legacy, penalty_param):
    """coefs (n_folds, n_l1_ratios, n_cs, size) of solver vectors, scores and n_iter (n_folds,
    n_l1_ratios, n_cs); grid the l1_ratios_ ([None] without l1_ratios)."""
    n_folds, n_l1, n_cs, _ = coefs.shape
    K = problem.n_classes if problem.n_classes > 2 else 1
    d = problem.X.shape[1]
    W = coefs[..., : K * d].reshape(n_folds, n_l1, n_cs, K, d)
    if problem.fit_intercept:
        W = np.concatenate([W, coefs[..., K * d:, None]], axis=-1)  # the intercept as last column
    out = {"l1_ratios_": np.asarray(grid)}
    if not legacy:
        if l1_ratios is None:
            ratio = 1.0 if penalty_param == "l1" else 0.0
        else:
            ratio = float(best_ratio)
        out.update(C_=float(best_C), l1_ratio_=ratio, coefs_paths_=W, scores_=scores, n_iter_=n_iter)
        return out
    keys = classes[1:] if K == 1 else classes
    paths = np.moveaxis(W, (0, 1, 3), (1, 3, 0))       # (K, n_folds, n_cs, n_l1, dof)
    fold_scores = np.swapaxes(scores, 1, 2)            # (n_folds, n_cs, n_l1)
    iterations = np.swapaxes(n_iter, 1, 2)[None]       # (1, n_folds, n_cs, n_l1)
    if l1_ratios is None:  # no l1_ratio axis
        paths, fold_scores, iterations = paths[:, :, :, 0], fold_scores[:, :, 0], iterations[..., 0]
    out.update(coefs_paths_=dict(zip(keys, paths)), scores_={k: fold_scores.copy() for k in keys},
               n_iter_=iterations, C_=np.repeat(np.asarray([best_C]), len(keys)),
               l1_ratio_=np.repeat(np.asarray([best_ratio]), len(keys)))
    return out
