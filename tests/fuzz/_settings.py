"""The fuzzers' hypothesis settings: quick and reproducible in the default run; with
REFNN_LONG_TESTS=1, REFNN_FUZZ_EXAMPLES examples per property (default 2,000), drawn afresh."""
import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("REFNN_LONG_TESTS") == "1"
EXAMPLES = int(os.environ.get("REFNN_FUZZ_EXAMPLES", "2000")) if LONG else None


def fuzz(quick):
    """Settings for a property: `quick` examples in the default run."""
    return settings(max_examples=EXAMPLES or quick, deadline=None, derandomize=not LONG,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
