from sklearn.neural_network.tests.test_mlp import *  # noqa: F401, F403
