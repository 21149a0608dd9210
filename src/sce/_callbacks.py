"""scikit-learn's callback API (``set_callbacks``, sklearn.callback) around a fit: the fit is a task
whose subtasks are the solver's iterations (Newton steps, L-BFGS iterations, epochs), each begun
with the parameters it starts from and ended with those it reached; the subtask begun after the last
iteration is ended empty, and the fit task ends on the fitted estimator.  Nothing is done for an
estimator without callbacks."""


class FitCallbacks:
    """``attributes(state)``: the fitted attributes (e.g. coef_, intercept_) of the solver's state,
    from which the callbacks rebuild an estimator; it must return copies."""

    def __init__(self, est, X, y, sample_weight, attributes, task_name, max_subtasks, state):
        self.active = bool(getattr(est, "_skl_callbacks", None))
        self.step = self._step if self.active else None
        if not self.active:
            return
        self.est, self.X, self.y, self.attributes, self.task_name = est, X, y, attributes, task_name
        self.metadata = {"sample_weight": sample_weight}
        self.root = est._init_callback_context(max_subtasks=max_subtasks)
        self.root.call_on_fit_task_begin(estimator=est, X=X, y=y, metadata=self.metadata)
        self.task = self._begin(state)

    def _hook_arguments(self, state):
        return dict(estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
                    reconstruction_attributes=self.attributes(state))

    def _begin(self, state):
        task = self.root.subcontext(task_name=self.task_name)
        task.call_on_fit_task_begin(**self._hook_arguments(state))
        return task

    def _step(self, state):
        """An iteration ended at ``state``; the next one begins there."""
        self.task.call_on_fit_task_end(**self._hook_arguments(state))
        self.task = self._begin(state)

    def end_last(self):
        """End the subtask begun after the last iteration, which did not run."""
        if self.active:
            self.task.call_on_fit_task_end(estimator=self.est)

    def end_fit(self):
        if self.active:
            self.root.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y, metadata=self.metadata,
                                           reconstruction_attributes={})
