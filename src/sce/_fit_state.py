"""Estimators are left as they were when a fit does not finish."""
import copy
import functools


def restore_state_on_error(fit_method):
    """Decorate a fitting method so that an exception raised inside it (an error, or a
    KeyboardInterrupt from Ctrl-C) leaves the estimator exactly as it was before the call:
    unfitted after a first fit, or with the previous fit's attributes after a refit or a
    partial_fit; never half-written with, say, a new ``classes_`` beside old coefficients.

    The saved state is a deep copy of the estimator's attributes: parameters and fitted arrays,
    whose size is that of the model, not of the data.
    """

    @functools.wraps(fit_method)
    def fit(self, *args, **kwargs):
        saved = copy.deepcopy(self.__dict__)
        try:
            return fit_method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return fit
