import keras
import numpy as np
import pytest

from keras_fans import testing

# One layer of each covered kind, with its input shape.
LAYERS = {
    "Dense": (keras.layers.Dense, {"units": 64}, (1, 16)),
    "EinsumDense": (
        keras.layers.EinsumDense,
        {"equation": "ab,bc->ac", "output_shape": 64, "bias_axes": "c"},
        (1, 16),
    ),
    "Conv2D": (
        keras.layers.Conv2D,
        {"filters": 64, "kernel_size": 3},
        (1, 5, 5, 16),
    ),
}


def build(kind, **extra_kwargs):
    layer_class, kwargs, input_shape = LAYERS[kind]
    layer = layer_class(**kwargs, **extra_kwargs)
    layer.build(input_shape)
    return layer


def weights(layer):
    return {w.name: testing.numpy(w) for w in layer.weights}


@pytest.mark.parametrize("name", LAYERS)
def test_kernel_and_seeded_bias_without_context_are_stock(name):
    # RandomNormal declares no fan context: every weight is stock.
    def seeded(wrap=lambda initializer: initializer):
        return build(
            name,
            kernel_initializer=wrap(keras.initializers.GlorotUniform(seed=2)),
            bias_initializer=wrap(keras.initializers.RandomNormal(seed=3)),
        )

    stock = weights(seeded(testing.hide_fans))
    with testing.fans_on():
        given = weights(seeded())
    assert given.keys() == stock.keys()
    for weight_name, value in stock.items():
        np.testing.assert_array_equal(given[weight_name], value)


@pytest.mark.parametrize("name", LAYERS)
def test_default_bias_is_still_zeros(name):
    with testing.fans_on():
        bias = testing.numpy(build(name).bias)
    np.testing.assert_array_equal(bias, np.zeros_like(bias))


@pytest.mark.parametrize("name", LAYERS)
def test_seeded_bias_is_deterministic(name):
    with testing.fans_on():
        first, second = (
            testing.numpy(
                build(
                    name, bias_initializer=keras.initializers.HeUniform(4)
                ).bias
            )
            for _ in range(2)
        )
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", LAYERS)
def test_custom_initializers_are_called_as_before(name):
    calls = []

    def plain(shape, dtype=None):
        calls.append(("plain", tuple(shape), dtype))
        return keras.ops.zeros(shape, dtype=dtype)

    class ThirdParty:
        def __call__(self, shape, dtype=None, **kwargs):
            calls.append(("third_party", tuple(shape), dtype, kwargs))
            return keras.ops.zeros(shape, dtype=dtype)

    third_party = ThirdParty()
    with testing.fans_on():
        layer = build(name, bias_initializer=plain)
        assert layer.bias_initializer is plain
        layer = build(name, bias_initializer=third_party)
        assert layer.bias_initializer is third_party
    assert {call[0] for call in calls} == {"plain", "third_party"}
    for call in calls:
        assert call[2] == "float32"
        assert call[3:] in ((), ({},))


@pytest.mark.parametrize("name", LAYERS)
def test_config_and_serialization_are_untouched(name):
    initializer = keras.initializers.HeUniform(seed=1)
    serialized = keras.initializers.serialize(initializer)
    stock = build(name, name="probe", bias_initializer=initializer)
    with testing.fans_on():
        layer = build(name, name="probe", bias_initializer=initializer)
        assert layer.bias_initializer is initializer
        assert keras.initializers.serialize(initializer) == serialized
        config = layer.get_config()
        restored = type(layer).from_config(config)
        assert restored.get_config() == config
    assert config == stock.get_config()


def test_deferred_initialization_keeps_the_fan_context():
    def he_bias(wrap=lambda initializer: initializer):
        initializer = wrap(keras.initializers.HeUniform(5))
        return build("Dense", bias_initializer=initializer).bias

    def deferred():
        with keras.StatelessScope():
            bias = he_bias()
        keras.src.backend.common.variables.initialize_all_variables()
        return testing.numpy(bias)

    stock = testing.numpy(he_bias(testing.hide_fans))
    with testing.fans_on():
        eager = testing.numpy(he_bias())
        np.testing.assert_array_equal(deferred(), eager)
    testing.check_draw_against(eager, stock, "uniform", 2.0 / 16)


def test_build_called_with_a_keyword_shape():
    def make_layer():
        return keras.layers.Dense(8, bias_initializer=testing.FanRecorder())

    testing.FanRecorder.recorded()
    with testing.fans_on():
        make_layer().build(input_shape=(None, 16))
    assert testing.FanRecorder.recorded() == [((8,), 16, 8)]
