"""scikit-learn estimators trained by refnn (needs the optional extra: pip install refnn[sklearn]).

    from refnn.sklearn import MLPClassifier, MLPRegressor
    clf = MLPClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
"""
try:
    import sklearn  # noqa: F401
except ImportError as e:                       # pragma: no cover - the extra is missing
    raise ImportError("refnn.sklearn needs scikit-learn: pip install 'scikit-learn>=1.6'") from e

from ._mlp import MLPClassifier, MLPRegressor
from ._units import PerceptronClassifier, SigmoidUnitClassifier

__all__ = ["MLPClassifier", "MLPRegressor", "PerceptronClassifier", "SigmoidUnitClassifier"]
