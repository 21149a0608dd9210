from sklearn.linear_model.tests.test_logistic import *  # noqa: F401, F403
