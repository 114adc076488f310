"""The patch holds wherever Keras holds: deferred, repeated and traced
initialization, mixed precision, quantization, saving, threads, bad input.

Distribution (JAX) is in `distribution_test.py`; Keras versions in
`keras_fans/patching_test.py`.
"""

import threading

import keras
import numpy as np
import pytest

import keras_fans
from keras_fans import testing

WIDTH = 4096


def he_dense(**kwargs):
    return keras.layers.Dense(
        WIDTH, bias_initializer=keras.initializers.HeUniform(seed=1), **kwargs
    )


def eager_bias():
    with testing.fans_on():
        layer = he_dense()
        layer.build((None, 16))
    return testing.numpy(layer.bias)


def stock_bias():
    """What stock Keras draws for `he_dense()`'s bias: fan_in = WIDTH."""
    return testing.numpy(keras.initializers.HeUniform(seed=1)((WIDTH,)))


def check_he_bias(bias, stock, fan_in=16):
    """`bias` is He uniform with `fan_in`, and `stock` is not."""
    testing.check_draw_against(bias, stock, "uniform", 2.0 / fan_in)


# Deferred and repeated calls. (A build inside `keras.StatelessScope`
# initialized later: keras_fans/layers/weight_fans_test.py.)


def test_placeholder_and_deferred_values_equal_the_eager_build():
    eager = eager_bias()
    with testing.fans_on():
        with keras.StatelessScope():
            layer = he_dense()
            layer.build((None, 16))
            # An uninitialized variable's value calls its initializer again.
            placeholders = [testing.numpy(layer.bias.value) for _ in range(2)]
        keras.src.backend.common.variables.initialize_all_variables()
    for value in placeholders + [testing.numpy(layer.bias)]:
        np.testing.assert_array_equal(value, eager)


def traced(function):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(function)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function)
    pytest.skip("Keras never traces an initializer on the torch backend")


def test_traced_initializer_draws_the_eager_values():
    initializer = keras.initializers.HeUniform(seed=1)
    with testing.fans_on():
        wrapped = testing.with_fans(initializer, 16, WIDTH)
        eager = testing.numpy(wrapped((WIDTH,)))
        compiled = testing.numpy(traced(lambda: wrapped((WIDTH,)))())
    np.testing.assert_array_equal(compiled, eager)
    check_he_bias(compiled, stock_bias())


# Mixed precision and quantization.


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        with testing.fans_on():
            layer = he_dense()
            layer.build((None, 16))
    finally:
        keras.config.set_dtype_policy(previous)
    assert layer.bias.dtype == "float32"
    np.testing.assert_array_equal(testing.numpy(layer.bias), eager_bias())


def he_einsum_dense(**kwargs):
    return keras.layers.EinsumDense(
        "ab,bc->ac",
        WIDTH,
        bias_axes="c",
        bias_initializer=keras.initializers.HeUniform(seed=1),
        **kwargs,
    )


# gptq and awq are left out: they quantize a whole model against a
# calibration dataset, not one layer.
MODES = [
    "int8",
    pytest.param(
        "int4",
        marks=pytest.mark.skipif(
            testing.keras_before("3.11"),
            reason="int4 quantization is new in Keras 3.11",
        ),
    ),
    "float8",
]


@pytest.mark.skipif(
    testing.keras_before("3.3"),
    reason="`Layer.quantize()` is new in Keras 3.3",
)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make_layer", [he_dense, he_einsum_dense])
def test_quantize_after_a_patched_build_keeps_the_bias(make_layer, mode):
    with testing.fans_on():
        layer = make_layer()
        layer.build((None, 16))
        bias = testing.numpy(layer.bias)
        layer.quantize(mode)
    np.testing.assert_array_equal(testing.numpy(layer.bias), bias)
    check_he_bias(bias, stock_bias())
    assert layer(np.ones((2, 16), "float32")).shape == (2, WIDTH)


@pytest.mark.skipif(
    testing.keras_before("3.4"),
    reason="quantized dtype policies (`int8_from_float32`) are new in "
    "Keras 3.4",
)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make_layer", [he_dense, he_einsum_dense])
def test_built_quantized(make_layer, mode):
    with testing.fans_on():
        layer = make_layer(dtype=f"{mode}_from_float32")
        layer.build((None, 16))
    assert layer.quantization_mode == mode
    np.testing.assert_array_equal(testing.numpy(layer.bias), eager_bias())


# Saving. (A patched model trained, saved and reloaded patched and stock:
# integration_tests/readme_example_test.py.)


def mlp():
    return keras.Sequential(
        [
            keras.Input((4,), name="x"),
            keras.layers.Dense(
                8, "relu", bias_initializer="he_uniform", name="hidden"
            ),
            keras.layers.Dense(2, bias_initializer="he_uniform", name="out"),
        ],
        name="mlp",
    )


def test_stock_saved_model_loads_unchanged_under_the_patch(tmp_path):
    model = mlp()
    path = tmp_path / "stock.keras"
    model.save(path)
    with testing.fans_on():
        loaded = keras.saving.load_model(path)
    assert len(loaded.weights) == len(model.weights) == 4
    for saved, reloaded in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(
            testing.numpy(reloaded), testing.numpy(saved)
        )


@testing.runtime_only("compares patched with unpatched Keras")
def test_serialized_configs_are_identical_patched_or_not():
    stock = keras.saving.serialize_keras_object(mlp())
    with keras_fans.patched():
        patched = keras.saving.serialize_keras_object(mlp())
    assert patched == stock


# Threads: the fan context is process-wide, a build's fans its own.


def test_overlapping_builds_each_get_their_own_fans():
    """Two builds forced to overlap, in the one order where a build stack
    shared by all threads loses a build: A starts, B starts, A ends (a
    shared stack's pop would drop B's entry), then B adds its bias."""
    a_inside, b_inside, a_done = (threading.Event() for _ in range(3))

    def waiting_kernel(arrived, wait_for):
        def kernel(shape, dtype=None):
            arrived.set()
            assert wait_for.wait(timeout=60), "the other build never came"
            return keras.ops.zeros(shape, dtype=dtype)

        return kernel

    def build(units, fan_in, kernel_initializer):
        keras.layers.Dense(
            units,
            kernel_initializer=kernel_initializer,
            bias_initializer=testing.FanRecorder(),
        ).build((None, fan_in))

    def build_a():
        build(8, 16, waiting_kernel(a_inside, b_inside))
        a_done.set()

    testing.FanRecorder.recorded()
    with testing.fans_on():
        a = threading.Thread(target=build_a)
        a.start()
        assert a_inside.wait(timeout=60)
        b = threading.Thread(
            target=build, args=(32, 64, waiting_kernel(b_inside, a_done))
        )
        b.start()
        a.join()
        b.join()
    assert testing.FanRecorder.recorded() == [((8,), 16, 8), ((32,), 64, 32)]


@testing.runtime_only("tests that patch() reaches every thread")
def test_patching_is_process_wide():
    """A thread that never called `patch()` is patched while another thread
    holds `patched()` open, and stock after it closes."""
    inside, closed = threading.Event(), threading.Event()

    def hold_the_patch():
        with keras_fans.patched():
            inside.set()
            closed.wait()

    holder = threading.Thread(target=hold_the_patch)
    holder.start()
    inside.wait()
    try:
        while_patched = he_dense()
        while_patched.build((None, 16))
    finally:
        closed.set()
        holder.join()
    after = he_dense()
    after.build((None, 16))
    while_patched, after = (
        testing.numpy(layer.bias) for layer in (while_patched, after)
    )
    check_he_bias(while_patched, after)
    check_he_bias(after, while_patched, WIDTH)


# Bad input.


@testing.runtime_only("compares with unpatched Keras's error")
def test_unknown_input_width_fails_as_stock_keras_does():
    with pytest.raises(Exception) as stock:
        keras.layers.Dense(8, name="probe").build((None, None))
    with keras_fans.patched():
        with pytest.raises(type(stock.value)) as patched:
            keras.layers.Dense(8, name="probe").build((None, None))
    assert str(patched.value) == str(stock.value)


@pytest.mark.parametrize("fan_in", [0, -3, 2.5, True, "16"])
@testing.runtime_only("keras_fans validates fans; Keras's layers pass ints")
def test_bad_fans_from_a_caller_raise_naming_them(fan_in):
    with testing.fans_on():
        wrapped = testing.with_fans(keras.initializers.HeUniform(), fan_in, 4)
        with pytest.raises((TypeError, ValueError), match=f"fan_in={fan_in!r}"):
            wrapped((4,))


def test_axes_without_both_lists_are_ignored_as_in_stock_keras():
    for input_axes, output_axes in (([0], None), (None, [1])):
        assert testing.compute_fans((2, 3), input_axes, output_axes) == (2, 3)
    assert testing.compute_fans((2, 3), [0], None, fan_out=7) == (2, 7)


def positional_only(shape, fan_in=None, fan_out=None, /, dtype=None):
    return keras.ops.ones(shape, dtype=dtype)


def with_layout(shape, dtype=None, layout=None):
    return keras.ops.ones(shape, dtype=dtype)


def with_kwargs(shape, dtype=None, **kwargs):
    assert not kwargs
    return keras.ops.ones(shape, dtype=dtype)


@pytest.mark.parametrize(
    "initializer",
    [
        pytest.param(
            positional_only,
            marks=testing.runtime_only(
                "Keras's wrapper checks the parameters' names only"
            ),
        ),
        with_layout,
        with_kwargs,
    ],
)
def test_initializers_that_cannot_take_fans_by_keyword_are_left_alone(
    initializer,
):
    with testing.fans_on():
        assert testing.with_fans(initializer, 3, 4) is initializer
        layer = keras.layers.Dense(4, bias_initializer=initializer)
        layer.build((None, 16))
    np.testing.assert_array_equal(testing.numpy(layer.bias), np.ones(4))
