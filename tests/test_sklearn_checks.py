"""scikit-learn's estimator checks over refnn's estimators (every check, none expected to fail)."""
import pytest

pytest.importorskip("sklearn", reason="the estimators need the optional extra scikit-learn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from refnn.sklearn import (  # noqa: E402
    MLPClassifier,
    MLPRegressor,
    PerceptronClassifier,
    SigmoidUnitClassifier,
)

ESTIMATORS = [MLPClassifier(random_state=0), MLPRegressor(random_state=0),
              PerceptronClassifier(random_state=0), SigmoidUnitClassifier(random_state=0)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
