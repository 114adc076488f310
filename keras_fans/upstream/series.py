"""The pull requests, in order: each one's runtime rules and its edits.

Upstream files: those the edits name. Each PR lists the `FanRule`s of the
runtime patch it makes Keras follow (`rules`), and the edits that do it in
Keras's source. Where an edit writes a rule differently (from `build()`'s
locals, e.g. `compute_fans(kernel_shape)`, rather than from the input
shape), `upstream_tests/equivalence.py` proves per prefix of the series that
the two draw bit-identical weights. The tests each PR adds are the methods
of `keras_fans/upstream/tests/<Keras test path>`, run here too. The biases
neither the series nor the runtime patch gives fans are in `LEFT_OUT`, each
with its reason.
"""

import ast
from pathlib import Path
from typing import NamedTuple

from keras_fans import patching
from keras_fans.upstream import edits as e

TESTS = Path(__file__).parent / "tests"

_RANDOM = "keras/src/initializers/random_initializers.py"
_CONV = "keras/src/layers/convolutional"


class PullRequest(NamedTuple):
    title: str
    rules: tuple  # (layer class name, weight name) of the runtime rules.
    edits: tuple


def _with_fans(fans):
    """`initializer=X` becomes `initializers.with_fans(X, <fans>)`."""
    return "initializers.with_fans({}, " + fans + ")"


def _bias(path, layer, fans, weight="bias"):
    return e.WrapInitializer(path, f"{layer}.build", weight, _with_fans(fans))


def tests(path, cls, *methods):
    """Adds our test `methods` of `cls` (in `TESTS/<path>`) to the end of
    Keras's `cls` in `keras/src/<path>`, with the imports they use."""
    ours = (TESTS / path).read_text()
    syntax = ast.parse(ours)
    lines = ours.splitlines(keepends=True)
    (node,) = [n for n in syntax.body if getattr(n, "name", None) == cls]
    chosen = [n for n in node.body if getattr(n, "name", None) in methods]
    if len(chosen) != len(methods):
        raise e.UpstreamShapeError(f"{path}: not all of {methods} in {cls}")
    text = "\n".join(
        "".join(lines[n.lineno - 1 : n.end_lineno]) for n in chosen
    )
    used = {
        n.id for m in chosen for n in ast.walk(m) if isinstance(n, ast.Name)
    }
    imports = [
        e.AddImport(f"keras/src/{path}", ast.unparse(n))
        for n in syntax.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and any((a.asname or a.name) in used for a in n.names)
    ]
    return (
        e.AddDefinitions(f"keras/src/{path}", cls, text, methods=True),
        *imports,
    )


_IMPORT_COMPUTE_FANS = (
    "from keras.src.initializers.random_initializers import compute_fans"
)

_PROTOCOL = """
An initializer whose `__call__` also declares the keyword arguments
`fan_in` and `fan_out` receives, from a layer, the fans of the kernel
beside a bias (as `VarianceScaling` does); any other is called as before.
"""

_VARIANCE_SCALING_DOC = """
`n` is computed from the shape of the weight, unless the caller passes
`fan_in` or `fan_out`, which then replace the numbers of input or output
units (a layer passes those of the kernel beside a bias).
"""

_GIVEN_FANS = """\
# A layer passes a bias its kernel's fans: its shape cannot show them.
fan_in = shape_fan_in if fan_in is None else fan_in
fan_out = shape_fan_out if fan_out is None else fan_out
"""

_WITH_FANS = '''\
class _WithFans:
    """Calls `initializer` with the fans of the kernel beside a bias."""

    def __init__(self, initializer, fan_in, fan_out):
        self.initializer = initializer
        self.fan_in = fan_in
        self.fan_out = fan_out

    def __call__(self, shape, dtype=None):
        return self.initializer(
            shape, dtype=dtype, fan_in=self.fan_in, fan_out=self.fan_out
        )


def with_fans(initializer, fan_in, fan_out):
    """Returns `initializer`, called with `fan_in` and `fan_out` if its
    `__call__` declares them; any other initializer comes back unchanged.

    Layers use it for a bias, whose shape does not show the fans of the
    kernel beside it. Not exported: a helper of layers, not public API.
    """
    try:
        parameters = inspect.signature(initializer).parameters
    except (TypeError, ValueError):  # `None`, or a builtin with no signature.
        return initializer
    if "fan_in" in parameters and "fan_out" in parameters:
        return _WithFans(initializer, fan_in, fan_out)
    return initializer
'''

# The biases the series (and so `patch()`) leaves stock, and why
# (upstream/README.md).
LEFT_OUT = {
    ("BaseConvTranspose", "bias"): "the kernel's fans (k * filters) make "
    "the bias smaller than stock's, while an output sums about "
    "k * in / strides inputs",
    ("SimpleRNNCell", "bias"): "a gate sums the inputs of two kernels: no "
    "one kernel is beside the bias",
    ("GRUCell", "bias"): "as SimpleRNNCell",
    ("LSTMCell", "bias"): "as SimpleRNNCell",
    ("ConvLSTMCell", "bias"): "as SimpleRNNCell",
}

SERIES = (
    PullRequest(
        "Pass the fans of a layer's kernel to its bias initializer",
        (("Dense", "bias"), ("EinsumDense", "bias"), ("BaseConv", "bias")),
        (
            e.InsertAfterLine(
                "keras/src/initializers/initializer.py",
                "Initializer",
                "any Keras object.",
                _PROTOCOL,
            ),
            e.InsertAfterLine(
                _RANDOM,
                "VarianceScaling",
                "within `[-limit, limit]`, where `limit = sqrt(3 * scale / n)`",
                _VARIANCE_SCALING_DOC,
            ),
            e.AddParameters(
                _RANDOM,
                "VarianceScaling.__call__",
                ", *, fan_in=None, fan_out=None",
            ),
            e.ReplaceExpressions(
                _RANDOM,
                "VarianceScaling.__call__",
                "fan_in, fan_out = compute_fans(",
                "(fan_in, fan_out)",
                "shape_fan_in, shape_fan_out",
            ),
            e.InsertBefore(
                _RANDOM, "VarianceScaling.__call__", "if self.mode", _GIVEN_FANS
            ),
            e.AddDefinitions(
                "keras/src/initializers/__init__.py", "get", _WITH_FANS
            ),
            _bias(
                "keras/src/layers/core/dense.py",
                "Dense",
                "*compute_fans(kernel_shape)",
            ),
            e.AddImport("keras/src/layers/core/dense.py", _IMPORT_COMPUTE_FANS),
            _bias(
                "keras/src/layers/core/einsum_dense.py",
                "EinsumDense",
                "*compute_fans(kernel_shape, input_axes, output_axes)",
            ),
            e.AddImport(
                "keras/src/layers/core/einsum_dense.py", _IMPORT_COMPUTE_FANS
            ),
            _bias(
                f"{_CONV}/base_conv.py",
                "BaseConv",
                "*compute_fans(kernel_shape)",
            ),
            e.AddImport(f"{_CONV}/base_conv.py", _IMPORT_COMPUTE_FANS),
            *tests(
                "initializers/random_initializers_test.py",
                "RandomInitializersTest",
                "test_variance_scaling_with_fans",
                "test_with_fans",
            ),
            *tests(
                "layers/core/dense_test.py",
                "DenseTest",
                "test_bias_initializer_gets_the_kernel_fans",
                "test_bias_initializer_forms",
                "test_bias_values_survive_saving",
            ),
            *tests(
                "layers/core/einsum_dense_test.py",
                "EinsumDenseTest",
                "test_bias_initializer_gets_the_kernel_fans",
            ),
            *tests(
                "layers/convolutional/conv_test.py",
                "ConvBasicTest",
                "test_bias_initializer_gets_the_kernel_fans",
            ),
        ),
    ),
    PullRequest(
        "Pass the kernel fans to the bias of separable convolutions and "
        "TernaryDense",
        (("BaseSeparableConv", "bias"), ("TernaryDense", "bias")),
        (
            _bias(
                f"{_CONV}/base_separable_conv.py",
                "BaseSeparableConv",
                "*compute_fans(pointwise_kernel_shape)",
            ),
            e.AddImport(
                f"{_CONV}/base_separable_conv.py", _IMPORT_COMPUTE_FANS
            ),
            _bias(
                "keras/src/layers/core/ternary_dense.py",
                "TernaryDense",
                "*compute_fans(kernel_shape)",
            ),
            e.AddImport(
                "keras/src/layers/core/ternary_dense.py", _IMPORT_COMPUTE_FANS
            ),
            *tests(
                "layers/convolutional/separable_conv_test.py",
                "SeparableConvBasicTest",
                "test_bias_initializer_gets_the_pointwise_kernel_fans",
            ),
        ),
    ),
    PullRequest(
        "Use one channel's fans for depthwise kernels and biases "
        "(changes default values)",
        (
            ("BaseDepthwiseConv", "bias"),
            ("BaseDepthwiseConv", "kernel"),
            ("BaseSeparableConv", "depthwise_kernel"),
        ),
        (
            _bias(
                f"{_CONV}/base_depthwise_conv.py",
                "BaseDepthwiseConv",
                "*compute_fans(self.kernel_size + (1, self.depth_multiplier))",
            ),
            _bias(
                f"{_CONV}/base_depthwise_conv.py",
                "BaseDepthwiseConv",
                "*compute_fans(self.kernel_size + (1, self.depth_multiplier))",
                weight="kernel",
            ),
            e.AddImport(
                f"{_CONV}/base_depthwise_conv.py", _IMPORT_COMPUTE_FANS
            ),
            _bias(
                f"{_CONV}/base_separable_conv.py",
                "BaseSeparableConv",
                "*compute_fans(self.kernel_size + (1, self.depth_multiplier))",
                weight="depthwise_kernel",
            ),
            *tests(
                "layers/convolutional/depthwise_conv_test.py",
                "DepthwiseConvBasicTest",
                "test_kernel_and_bias_get_one_channel_fans",
            ),
            *tests(
                "layers/convolutional/separable_conv_test.py",
                "SeparableConvBasicTest",
                "test_depthwise_kernel_gets_one_channel_fans",
            ),
        ),
    ),
)


def runtime_rules(count):
    """The runtime `FanRule`s that PRs 1..`count` make Keras follow."""
    covered = {rule for pr in SERIES[:count] for rule in pr.rules}
    return tuple(
        rule
        for rule in patching._rules(depthwise_kernels=True)
        if (_class_name(rule.layer_class), rule.weight_name) in covered
    )


def _class_name(layer_class):
    if isinstance(layer_class, str):
        return layer_class.rpartition(".")[2]
    return layer_class.__name__
