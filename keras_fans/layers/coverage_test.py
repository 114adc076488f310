"""The coverage guard: every public Keras layer with a bias gets its fans.

Builds each public `keras.layers` class (required arguments filled from
`REQUIRED`) with the fan context, on the first of a few small inputs it
accepts, with a recording bias initializer, and fails naming each layer
whose bias fans are not those its fan rules give (none, or wrong), or, for
a class the series leaves out (`series.LEFT_OUT`: recurrent cells,
transposed convolutions), whose bias gets any. A future Keras layer with a
bias makes it fail until a fan rule covers it or it is left out. The
wrappers (Bidirectional, TimeDistributed, RNN, StackedRNNCells) are built
around layers with a bias; a layer it cannot build is reported with its
exception's type unless listed in `UNBUILDABLE`.
"""

import functools
import inspect

import keras
import pytest

from keras_fans import patching
from keras_fans import testing
from keras_fans.upstream import series

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
    """`cls(**arguments)`, built on the first input it accepts; raises the
    last attempt's exception if it accepts none."""
    error = None
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
            except Exception as exception:
                error = exception
    raise error


def wrapped(make_wrapper):
    """A maker of a wrapper around layers with a bias, built on (2, 3, 4)."""

    def make(bias_initializer):
        layer = make_wrapper(bias_initializer)
        layer(keras.Input(batch_shape=(2, 3, 4)))
        return layer

    return make


# The wrappers, which the guard cannot build on their own, around layers
# with a bias.
WRAPPERS = {
    "Bidirectional(LSTM)": wrapped(
        lambda init: keras.layers.Bidirectional(
            keras.layers.LSTM(3, bias_initializer=init)
        )
    ),
    "TimeDistributed(Dense)": wrapped(
        lambda init: keras.layers.TimeDistributed(
            keras.layers.Dense(3, bias_initializer=init)
        )
    ),
    "RNN(GRUCell)": wrapped(
        lambda init: keras.layers.RNN(
            keras.layers.GRUCell(3, bias_initializer=init)
        )
    ),
    "StackedRNNCells": wrapped(
        lambda init: keras.layers.RNN(
            keras.layers.StackedRNNCells(
                [
                    keras.layers.SimpleRNNCell(3, bias_initializer=init),
                    keras.layers.LSTMCell(2, bias_initializer=init),
                ]
            )
        )
    ),
}
# Public layers the guard may not build with `REQUIRED` on `INPUT_SHAPES`,
# none with a bias: merges take a list, attention a list of 2 or 3 inputs,
# preprocessing layers need a vocabulary or bins or integer input,
# GroupNormalization 4 channels in groups of 32, InputLayer is no layer to
# call.
UNBUILDABLE = {
    "Add",
    "AdditiveAttention",
    "Attention",
    "Average",
    "CategoryEncoding",
    "Concatenate",
    "Discretization",
    "GroupNormalization",
    "InputLayer",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
}


def makers(classes):
    """`{name: make(bias_initializer) -> built layer}` for each of `classes`
    the guard has arguments for; `{name: problem}` for the others with a
    bias initializer."""
    found, problems = {}, {}
    for cls in classes:
        arguments = constructor_arguments(cls)
        if arguments is None:
            if "bias_initializer" in inspect.signature(cls).parameters:
                problems[cls.__name__] = "needs an argument in REQUIRED"
            continue

        def make(bias_initializer, cls=cls, arguments=arguments):
            if "bias_initializer" in arguments:
                arguments = {**arguments, "bias_initializer": bias_initializer}
            return build(cls, arguments)

        found[cls.__name__] = make
    return found, problems


BIAS_RULES = [
    rule
    for rule in patching._rules(True)
    if rule.weight_name == "bias" and rule.installed_class() is not None
]


def rule_fans(layer):
    """The fans the bias rules give each bias of `layer` and its sublayers:
    the rule of the nearest class in each one's MRO, at its build shape;
    `(None, None)` (stock) for a class the series leaves out, even if a
    rule covers it."""
    rules = {rule.installed_class(): rule for rule in BIAS_RULES}
    fans = set()
    for sublayer in layer._flatten_layers():
        if getattr(sublayer, "bias", None) is None:
            continue
        for cls in type(sublayer).__mro__:
            if (cls.__name__, "bias") in series.LEFT_OUT:
                fans.add((None, None))
                break
            if cls in rules:
                shape = next(iter(sublayer._build_shapes_dict.values()))
                fans.add(tuple(rules[cls].fans(sublayer, shape)))
                break
    return fans


def audit(named_makers):
    """Builds each layer with the fan context and a recording bias
    initializer; returns `{name: problem}` for each whose bias fans are not
    those its rules give, `{name: exception type}` for each that could not
    be built, and the built layers by name."""
    problems, unbuilt, layers = {}, {}, {}
    with testing.fans_on():
        for name, make in named_makers.items():
            testing.FanRecorder.recorded()
            try:
                layer = make(testing.FanRecorder())
            except Exception as exception:
                unbuilt[name] = type(exception).__name__
                continue
            calls = testing.FanRecorder.recorded()
            layers[name] = layer
            has_bias = any("bias" in weight.name for weight in layer.weights)
            if has_bias and not calls:
                problems[name] = "has a bias but no bias_initializer"
                continue
            recorded = {tuple(call[1:]) for call in calls}
            expected = rule_fans(layer)
            if recorded != expected:
                problems[name] = f"bias fans {recorded}, rules give {expected}"
    return problems, unbuilt, layers


@functools.cache
def full_audit():
    found, problems = makers(public_layer_classes())
    more_problems, unbuilt, layers = audit({**found, **WRAPPERS})
    return {**problems, **more_problems}, unbuilt, layers


def test_every_public_layer_bias_gets_its_fans():
    problems, unbuilt, layers = full_audit()
    assert problems == {}
    # Some of them build on older releases (Discretization on 3.0.5, 3.6.0).
    assert unbuilt.keys() <= UNBUILDABLE, unbuilt
    # The guard did build the layers it is there for.
    for name in ("Dense", "Conv2D", "LSTM", "GRU", "MultiHeadAttention"):
        assert name in layers
    assert WRAPPERS.keys() <= layers.keys()


@testing.runtime_only("removes a fan rule from patch()")
@pytest.mark.parametrize(
    "rule", BIAS_RULES, ids=lambda rule: rule.installed_class().__name__
)
def test_guard_fails_without_any_one_rule(rule, monkeypatch):
    """Removing one rule makes the guard name every public layer that
    builds a layer of the rule's class (itself, or a sublayer)."""
    _, _, layers = full_audit()
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
    found, _ = makers(public_layer_classes())
    named = {**found, **WRAPPERS}
    problems, _, _ = audit({name: named[name] for name in affected})
    assert sorted(problems) == affected
