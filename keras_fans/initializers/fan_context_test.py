import inspect

import keras
import numpy as np

import keras_fans
from keras_fans import testing


def plain_function(shape, dtype=None):
    return keras.ops.ones(shape, dtype=dtype)


def swallows_kwargs(shape, dtype=None, **kwargs):
    assert not kwargs
    return keras.ops.ones(shape, dtype=dtype)


class ThirdParty:
    def __call__(self, shape, dtype=None):
        return keras.ops.ones(shape, dtype=dtype)


class OwnCall(keras.initializers.HeUniform):
    """A fan-scaled subclass whose `__call__` does not declare the fans: it
    is called as before, and draws stock values."""

    def __call__(self, shape, dtype=None):
        return super().__call__(shape, dtype=dtype)


def test_initializers_that_do_not_opt_in_come_back_unchanged():
    with testing.fans_on():
        for initializer in (
            None,
            plain_function,
            lambda shape, dtype=None: keras.ops.ones(shape, dtype=dtype),
            swallows_kwargs,
            ThirdParty(),
            OwnCall(seed=1),
            keras.initializers.Ones(),
            keras.initializers.Zeros(),
        ):
            # Called as stock Keras calls it (`swallows_kwargs` asserts it).
            keras.layers.Dense(4, bias_initializer=initializer).build((1, 3))
            assert testing.with_fans(initializer, 3, 4) is initializer


@testing.runtime_only("Keras's layers hand `with_fans` resolved initializers")
def test_strings_are_resolved_like_add_weight_does():
    assert isinstance(
        testing.with_fans("zeros", 3, 4), keras.initializers.Zeros
    )


def test_opt_in_initializer_gets_the_fans():
    recorder = testing.FanRecorder()
    testing.FanRecorder.recorded()
    testing.with_fans(recorder, 3, 4)((5,), dtype="float32")
    assert testing.FanRecorder.recorded() == [((5,), 3, 4)]


@testing.runtime_only("Keras's wrapper is minimal: no `__wrapped__`")
def test_wrapper_reports_the_wrapped_signature():
    class WithLayout:
        def __call__(
            self, shape, dtype=None, layout=None, *, fan_in=None, fan_out=None
        ):
            return keras.ops.ones(shape, dtype=dtype)

    wrapped = testing.with_fans(WithLayout(), 3, 4)
    assert "layout" in inspect.signature(wrapped).parameters
    wrapped = testing.with_fans(testing.FanRecorder(), 3, 4)
    assert "layout" not in inspect.signature(wrapped).parameters


@testing.runtime_only(
    "Keras's layers hand `with_fans` an unwrapped initializer; the runtime "
    "patch's `add_weight` hook may wrap one a recurrent cell wrapped"
)
def test_wrapping_again_the_last_fans_win():
    initializer = keras.initializers.HeUniform(seed=5)
    with testing.fans_on():
        expected = testing.numpy(initializer((64,), fan_in=16, fan_out=4))
        rewrapped = testing.with_fans(
            testing.with_fans(initializer, 2, 9), 16, 4
        )
        np.testing.assert_array_equal(testing.numpy(rewrapped((64,))), expected)


def test_wrapper_is_pure():
    initializer = keras.initializers.HeUniform(seed=5)
    with testing.fans_on():
        wrapped = testing.with_fans(initializer, 16, 4096)
        first = testing.numpy(wrapped((4096,)))
        np.testing.assert_array_equal(testing.numpy(wrapped((4096,))), first)


@testing.runtime_only("unpatch() takes the fan context away")
def test_wrapper_survives_unpatch():
    initializer = keras.initializers.HeUniform(seed=5)
    with keras_fans.patched():
        wrapped = testing.with_fans(initializer, 16, 4096)
    # Called after unpatch (a deferred variable): stock draw, no TypeError.
    np.testing.assert_array_equal(
        testing.numpy(wrapped((4096,))), testing.numpy(initializer((4096,)))
    )
