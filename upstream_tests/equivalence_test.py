from upstream_tests import equivalence

NIGHTLY = "3.16.0.dev2026102704"
RUN_LAYER_TEST = (
    "keras/src/layers/core/dense_test.py::DenseTest::test_dense_basics"
)
EVERY_BACKEND = (
    "keras/src/layers/core/dense_test.py::DenseTest::test_dense_sparse"
)


def test_expected_failures_are_per_version_and_backend():
    openvino = equivalence.expected_failures(NIGHTLY, "openvino")
    jax = equivalence.expected_failures(NIGHTLY, "jax")
    assert EVERY_BACKEND in jax
    assert EVERY_BACKEND in openvino
    assert RUN_LAYER_TEST in openvino
    assert RUN_LAYER_TEST not in jax
    assert not equivalence.expected_failures("3.15.1", "openvino")
