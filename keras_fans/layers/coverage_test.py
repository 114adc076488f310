"""The coverage guard: every public Keras layer with a bias gets its fans.

Builds each public `keras.layers` class (required arguments filled from
`REQUIRED`) with the fan context, on the first of a few small inputs it
accepts, with a recording bias initializer, and fails naming each layer
whose bias was filled without a fan context. A future Keras layer with a
bias makes it fail until a fan rule covers it. Layers it cannot build on its
own (the wrappers Bidirectional, TimeDistributed, RNN, StackedRNNCells,
merges, Embedding, ...) have no bias of their own in Keras 3.15; the layers
the wrappers hold are checked as themselves.
"""

import functools
import inspect

import keras
import pytest

from keras_fans import patching
from keras_fans import testing

# Values for constructor arguments without a default, and for the
# arguments that turn a bias on.
REQUIRED = {
    "units": 3,
    "filters": 2,
    "kernel_size": 2,
    "num_heads": 2,
    "key_dim": 2,
    "head_dim": 2,
    "num_query_heads": 2,
    "num_key_value_heads": 1,
    "equation": "ab,bc->ac",
    "output_shape": 3,
}
ENABLE_BIAS = {"bias_axes": "c"}
# Batch 2, then ranks 2 to 6 with 4 channels last.
INPUT_SHAPES = [(2, 4), (2, 3, 4), (2, 3, 5, 4), (2, 3, 5, 5, 4)]
INPUT_SHAPES.append((2, 3, 5, 5, 5, 4))


def public_layer_classes():
    classes = {
        value
        for value in vars(keras.layers).values()
        if inspect.isclass(value) and issubclass(value, keras.layers.Layer)
    }
    return sorted(classes, key=lambda cls: cls.__name__)


def constructor_arguments(cls):
    """Arguments for `cls`, or None if one it requires is not known."""
    parameters = inspect.signature(cls.__init__).parameters
    arguments = {}
    for name, parameter in list(parameters.items())[1:]:
        if name in ENABLE_BIAS:
            arguments[name] = ENABLE_BIAS[name]
        elif parameter.default is not inspect.Parameter.empty or (
            parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ):
            continue
        elif name in REQUIRED:
            arguments[name] = REQUIRED[name]
        else:
            return None
    if "bias_initializer" in parameters:
        arguments["bias_initializer"] = testing.FanRecorder()
    return arguments


def build(cls, arguments):
    """`cls(**arguments)`, built on the first input it accepts, or None."""
    for shape in INPUT_SHAPES:
        for call in (
            lambda layer, x: layer(x),
            lambda layer, x: layer(x, x),
            lambda layer, x: layer.build(x.shape),
        ):
            try:
                layer = cls(**arguments)
                call(layer, keras.Input(batch_shape=shape))
                return layer
            except Exception:
                continue
    return None


def audit(classes):
    """Builds each class with the fan context; `{class name: problem}` for
    each whose bias got none, and the built layers by class name."""
    problems, layers = {}, {}
    with testing.fans_on():
        for cls in classes:
            arguments = constructor_arguments(cls)
            if arguments is None:
                if "bias_initializer" in inspect.signature(cls).parameters:
                    problems[cls.__name__] = "needs an argument in REQUIRED"
                continue
            testing.FanRecorder.recorded()
            layer = build(cls, arguments)
            calls = testing.FanRecorder.recorded()
            if layer is None:
                if "bias_initializer" in arguments:
                    problems[cls.__name__] = "could not be built"
                continue
            layers[cls.__name__] = layer
            if not any("bias" in weight.name for weight in layer.weights):
                continue
            if "bias_initializer" not in arguments:
                problems[cls.__name__] = "has a bias but no bias_initializer"
            elif not calls or any(fan is None for c in calls for fan in c[1:]):
                problems[cls.__name__] = f"bias drawn without fans: {calls}"
    return problems, layers


@functools.cache
def full_audit():
    return audit(public_layer_classes())


def test_every_public_layer_bias_gets_its_fans():
    problems, layers = full_audit()
    assert problems == {}
    # The guard did build the layers it is there for.
    for name in ("Dense", "Conv2D", "LSTM", "GRU", "MultiHeadAttention"):
        assert name in layers


BIAS_RULES = [
    rule
    for rule in patching._rules(True)
    if rule.weight_name == "bias" and rule.installed_class() is not None
]


@testing.runtime_only("removes a fan rule from patch()")
@pytest.mark.parametrize(
    "rule", BIAS_RULES, ids=lambda rule: rule.installed_class().__name__
)
def test_guard_fails_without_any_one_rule(rule, monkeypatch):
    """Removing one rule makes the guard name every public layer that
    builds a layer of the rule's class (itself, or a sublayer)."""
    _, layers = full_audit()
    affected = sorted(
        name
        for name, layer in layers.items()
        if any(
            isinstance(sublayer, rule.installed_class())
            for sublayer in layer._flatten_layers()
        )
    )
    assert affected
    rules = patching._rules
    monkeypatch.setattr(
        patching,
        "_rules",
        lambda *args: tuple(r for r in rules(*args) if r is not rule),
    )
    problems, _ = audit([type(layers[name]) for name in affected])
    assert sorted(problems) == affected
