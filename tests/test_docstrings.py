"""The public docstrings: their examples run (doctest) and print what they show, and each public
object documents its parameters, what it returns or holds, related objects and an example; every
attribute fit sets is documented, so a new undocumented attribute fails here."""
import doctest
import importlib
import importlib.util
import inspect
import re

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification, make_multilabel_classification

import sce
import sce._functional
import sce.linear
import sce.linear_cv
import sce.mlp

PUBLIC = {name: getattr(sce, name) for name in sce.__all__}
ESTIMATORS = {name: obj for name, obj in PUBLIC.items() if inspect.isclass(obj)}
FUNCTIONS = {name: obj for name, obj in PUBLIC.items() if not inspect.isclass(obj)}
MODULES = [sce, sce._functional, sce.linear, sce.linear_cv, sce.mlp]

# numpy's defaults, set explicitly: the examples print arrays, and another test (or a plugin)
# changing the global print options must not change what they print
PRINT_OPTIONS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
                     nanstr="nan", infstr="inf", sign="-", floatmode="maxprec", legacy=False)


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = {}
    for module in MODULES:
        # globs={}: every example imports what it uses, as a reader copying it would
        for test in finder.find(module, module.__name__, globs={}):
            if test.examples:
                tests[test.name] = test
    return tests


DOCTESTS = _doctests()


def test_doctests_found():
    # a docstring example of each public object (a broken finder must not pass silently)
    for name, obj in PUBLIC.items():
        assert f"{obj.__module__}.{obj.__qualname__}" in DOCTESTS, name


@pytest.mark.parametrize("name", sorted(DOCTESTS))
def test_docstring_examples(name):
    test = DOCTESTS[name]
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    with np.printoptions(**PRINT_OPTIONS):
        result = runner.run(test, out=report.append, clear_globs=True)
    assert result.attempted > 0
    assert result.failed == 0, "".join(report)


# ---- sections ------------------------------------------------------------------------------------

def _sections(obj):
    """{section title: its text} of a numpydoc docstring (title line followed by a dashed line)."""
    doc = inspect.cleandoc(obj.__doc__ or "")
    parts = re.split(r"^(\S[^\n]*)\n-{3,}[ \t]*$", doc, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def _entries(section_text):
    """The names an entry list (Parameters, Attributes, ...) documents: lines 'name : type' at the
    section's indentation; 'a, b : type' documents both."""
    names = []
    for line in section_text.splitlines():
        m = re.match(r"^(\w+(?:\s*,\s*\w+)*)\s*:", line)
        if m:
            names += [n.strip() for n in m.group(1).split(",")]
    return names


def _see_also_targets(obj):
    """The names listed in the See Also section ('a, b : description' lines)."""
    targets = []
    for line in _sections(obj)["See Also"].splitlines():
        if line and not line[0].isspace():
            targets += [t.strip() for t in line.split(" : ")[0].split(",")]
    return targets


EXTERNAL = ("sklearn.", "scipy.", "numpy.")


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_docstring_sections(name):
    obj = PUBLIC[name]
    sections = _sections(obj)
    required = ["Parameters", "Attributes" if inspect.isclass(obj) else "Returns", "See Also",
                "Examples"]
    for title in required:
        assert title in sections, f"{name}: no {title} section"
        assert sections[title].strip(), f"{name}: empty {title} section"
    # every parameter of the signature is documented, in order, and nothing else
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    params = [p for p in signature.parameters if p != "self"]
    assert _entries(sections["Parameters"]) == params, name
    # See Also names the scikit-learn (or scipy / numpy) equivalent and sibling sce objects,
    # all of which exist
    targets = _see_also_targets(obj)
    assert any(t.startswith(EXTERNAL) for t in targets), f"{name}: no scikit-learn / SciPy equivalent"
    assert set(targets) & set(PUBLIC), f"{name}: See Also names no other sce object"
    for target in targets:
        if target.startswith(EXTERNAL):
            module, _, attr = target.rpartition(".")
            assert hasattr(importlib.import_module(module), attr), target
        else:
            assert target in PUBLIC and target != name, (name, target)
    # user documentation says what is computed, not in which C / Cython file
    assert not re.search(r"\b\w+\.(c|h|pyx)\b", obj.__doc__), name


# ---- fitted attributes -----------------------------------------------------------------------------

HAVE_PANDAS = importlib.util.find_spec("pandas") is not None


def _data(kind):
    if kind == "multiclass":
        X, y = load_iris(return_X_y=True)
    elif kind == "binary":
        X, y = make_classification(120, 5, random_state=0)
    else:
        X, y = make_multilabel_classification(60, 5, n_classes=3, random_state=0)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _dataframe(X):
    import pandas as pd
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])


# configurations that set different attributes, each converging without a warning
FITS = {
    "logistic multinomial": lambda: sce.LogisticClassifier().fit(*_data("multiclass")),
    "logistic binary lbfgs": lambda: sce.LogisticClassifier(solver="lbfgs").fit(*_data("binary")),
    "logistic cv legacy": lambda: sce.LogisticClassifierCV(
        Cs=3, cv=3, l1_ratios=(0,), scoring="accuracy", use_legacy_attributes=True).fit(*_data("multiclass")),
    "logistic cv refit=False": lambda: sce.LogisticClassifierCV(
        Cs=3, cv=3, l1_ratios=(0,), scoring="accuracy", use_legacy_attributes=False, refit=False).fit(
        *_data("binary")),
    "mlp adam": lambda: sce.SigmoidMLPClassifier((5,), learning_rate_init=0.05, random_state=0).fit(
        *_data("multiclass")),
    "mlp sgd early stopping": lambda: sce.SigmoidMLPClassifier(
        (5,), solver="sgd", early_stopping=True, random_state=0).fit(*_data("binary")),
    "mlp lbfgs multilabel": lambda: sce.SigmoidMLPClassifier(
        (5,), solver="lbfgs", alpha=1.0, random_state=0).fit(*_data("multilabel")),
    "mlp partial_fit": lambda: sce.SigmoidMLPClassifier((5,), random_state=0).partial_fit(
        *_data("multiclass"), classes=[0, 1, 2]),
}
if HAVE_PANDAS:  # X with string column names sets feature_names_in_
    FITS["logistic dataframe"] = lambda: sce.LogisticClassifier().fit(
        _dataframe(_data("multiclass")[0]), _data("multiclass")[1])
    FITS["logistic cv dataframe"] = lambda: sce.LogisticClassifierCV(
        Cs=3, cv=3, l1_ratios=(0,), scoring="accuracy", use_legacy_attributes=False).fit(
        _dataframe(_data("binary")[0]), _data("binary")[1])
    FITS["mlp dataframe"] = lambda: sce.SigmoidMLPClassifier(
        (5,), solver="lbfgs", alpha=1.0, random_state=0).fit(_dataframe(_data("binary")[0]), _data("binary")[1])


@pytest.fixture(scope="module")
def fitted():
    return {label: fit() for label, fit in FITS.items()}


def _fitted_attributes(estimator):
    return {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}


@pytest.mark.parametrize("label", sorted(FITS))
def test_every_fitted_attribute_is_documented(fitted, label):
    estimator = fitted[label]
    documented = set(_entries(_sections(type(estimator))["Attributes"]))
    undocumented = _fitted_attributes(estimator) - documented
    assert not undocumented, f"{type(estimator).__name__} sets undocumented attributes {sorted(undocumented)}"


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_documented_attribute_is_set_by_some_fit(fitted, name):
    cls = ESTIMATORS[name]
    documented = set(_entries(_sections(cls)["Attributes"]))
    seen = set().union(*(_fitted_attributes(e) for e in fitted.values() if type(e) is cls))
    # without a dataframe library no X has string column names to set feature_names_in_
    unobservable = set() if HAVE_PANDAS else {"feature_names_in_"}
    assert documented - seen - unobservable == set(), f"{name} documents attributes no fit sets"
