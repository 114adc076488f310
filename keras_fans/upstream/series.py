"""The pull requests, in order: each one's runtime rules and its edits.

Upstream files: those the edits name. Each PR lists the `FanRule`s of the
runtime patch it makes Keras follow (`rules`), and the edits that do it in
Keras's source. Where an edit writes a rule differently (from `build()`'s
locals, e.g. `compute_fans(kernel_shape)`, rather than from the input
shape), `upstream_tests/equivalence.py` proves per prefix of the series that
the two draw bit-identical weights. The tests each PR adds are the methods
of `keras_fans/upstream/tests/<Keras test path>`, run here too.
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

_COMPUTE_FANS_BODY = """\
if fan_in is not None or fan_out is not None:
    # A layer passes the fans of the unit the weight feeds, which the
    # weight's own shape cannot show (a bias is fed by the layer's inputs).
    shape_fan_in, shape_fan_out = compute_fans(shape, input_axes, output_axes)
    return (
        shape_fan_in if fan_in is None else int(fan_in),
        shape_fan_out if fan_out is None else int(fan_out),
    )
"""

_WITH_FANS = '''\
class _WithFans:
    """Calls `initializer` with the fans of the unit the weight feeds."""

    def __init__(self, initializer, fan_in, fan_out):
        self.initializer = initializer
        self.fan_in = fan_in
        self.fan_out = fan_out
        # The JAX backend passes `layout=` if the initializer declares it.
        self.__signature__ = inspect.signature(initializer)

    def __call__(self, shape, dtype=None, **kwargs):
        kwargs.update(fan_in=self.fan_in, fan_out=self.fan_out)
        return self.initializer(shape, dtype=dtype, **kwargs)


def with_fans(initializer, fan_in, fan_out):
    """Returns `initializer`, called with `fan_in` and `fan_out`.

    Layers use it for a weight whose shape does not show its fans, such as
    a bias. Only an initializer whose `__call__` declares `fan_in` and
    `fan_out` gets them; any other comes back unchanged.

    Args:
        initializer: An initializer instance or callable.
        fan_in: Number of inputs summed into the unit the weight feeds.
        fan_out: Fan-out of that unit's kernel.

    Returns:
        A callable with the signature of an initializer.
    """
    if isinstance(initializer, _WithFans):
        # Wrapped again: the new fans replace the old ones.
        initializer = initializer.initializer
    parameters = inspect.signature(initializer).parameters
    if "fan_in" in parameters and "fan_out" in parameters:
        return _WithFans(initializer, fan_in, fan_out)
    return initializer
'''


def _rnn_bias(path, cell, fans):
    """The LSTM cells: the user's bias initializer, inside the
    `unit_forget_bias` closure too, gets the fans."""
    return (
        e.InsertBefore(
            path,
            f"{cell}.build",
            "if self.unit_forget_bias:",
            f"initializer = initializers.with_fans(self.bias_initializer, "
            f"{fans})\n",
        ),
        e.ReplaceReads(
            path,
            f"{cell}.build",
            "if self.unit_forget_bias:",
            "self.bias_initializer",
            "initializer",
        ),
    )


_RNN = "keras/src/layers/rnn"

SERIES = (
    PullRequest(
        "Pass the fans of a layer's kernel to its bias initializer",
        (
            ("Dense", "bias"),
            ("EinsumDense", "bias"),
            ("TernaryDense", "bias"),
            ("BaseConv", "bias"),
        ),
        (
            e.AddParameters(
                _RANDOM, "compute_fans", ", *, fan_in=None, fan_out=None"
            ),
            e.InsertAfterLine(
                _RANDOM,
                "compute_fans",
                "output_axes: Optional list of integers",
                "fan_in: Optional integer, the number of input units; if "
                "`None`,\n    inferred from `shape`.\n"
                "fan_out: Optional integer, the number of output units; if "
                "`None`,\n    inferred from `shape`.\n",
            ),
            e.InsertBefore(
                _RANDOM,
                "compute_fans",
                "shape = tuple(shape)",
                _COMPUTE_FANS_BODY,
            ),
            e.AddParameters(
                _RANDOM,
                "VarianceScaling.__call__",
                ", *, fan_in=None, fan_out=None",
            ),
            e.AddKeywords(
                _RANDOM,
                "VarianceScaling.__call__",
                "compute_fans",
                ", fan_in=fan_in, fan_out=fan_out",
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
                "keras/src/layers/core/ternary_dense.py",
                "TernaryDense",
                "*compute_fans(kernel_shape)",
            ),
            e.AddImport(
                "keras/src/layers/core/ternary_dense.py", _IMPORT_COMPUTE_FANS
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
                "test_compute_fans_with_fans",
                "test_variance_scaling_with_fans",
                "test_with_fans",
            ),
            *tests(
                "layers/core/dense_test.py",
                "DenseTest",
                "test_bias_initializer_gets_the_kernel_fans",
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
        "Pass the fans of a recurrent cell's gates to its bias initializer",
        (
            ("SimpleRNNCell", "bias"),
            ("GRUCell", "bias"),
            ("LSTMCell", "bias"),
            ("ConvLSTMCell", "bias"),
        ),
        (
            _bias(
                f"{_RNN}/simple_rnn.py",
                "SimpleRNNCell",
                "input_shape[-1] + self.units, self.units",
            ),
            _bias(
                f"{_RNN}/gru.py",
                "GRUCell",
                "input_dim + self.units, 3 * self.units",
            ),
            *_rnn_bias(
                f"{_RNN}/lstm.py",
                "LSTMCell",
                "input_dim + self.units, 4 * self.units",
            ),
            *_rnn_bias(
                f"{_RNN}/conv_lstm.py",
                "ConvLSTMCell",
                "*compute_fans(self.kernel_size + (input_dim + self.filters, "
                "4 * self.filters))",
            ),
            e.AddImport(f"{_RNN}/conv_lstm.py", _IMPORT_COMPUTE_FANS),
            *tests(
                "layers/rnn/simple_rnn_test.py",
                "SimpleRNNTest",
                "test_bias_initializer_gets_the_gate_fans",
            ),
            *tests(
                "layers/rnn/gru_test.py",
                "GRUTest",
                "test_bias_initializer_gets_the_gate_fans",
            ),
            *tests(
                "layers/rnn/lstm_test.py",
                "LSTMTest",
                "test_bias_initializer_gets_the_gate_fans",
            ),
            *tests(
                "layers/rnn/conv_lstm_test.py",
                "ConvLSTMTest",
                "test_bias_initializer_gets_the_gate_fans",
            ),
        ),
    ),
    PullRequest(
        "Pass the kernel fans to the bias of transposed and separable "
        "convolutions",
        (("BaseConvTranspose", "bias"), ("BaseSeparableConv", "bias")),
        (
            _bias(
                f"{_CONV}/base_conv_transpose.py",
                "BaseConvTranspose",
                "*compute_fans(kernel_shape)",
            ),
            e.AddImport(
                f"{_CONV}/base_conv_transpose.py", _IMPORT_COMPUTE_FANS
            ),
            _bias(
                f"{_CONV}/base_separable_conv.py",
                "BaseSeparableConv",
                "*compute_fans(pointwise_kernel_shape)",
            ),
            e.AddImport(
                f"{_CONV}/base_separable_conv.py", _IMPORT_COMPUTE_FANS
            ),
            *tests(
                "layers/convolutional/conv_transpose_test.py",
                "ConvTransposeBasicTest",
                "test_bias_initializer_gets_the_kernel_fans",
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
