import math

import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import ops
from keras.src import testing


class FanRecorder(initializers.Initializer):
    """Fills zeros and records the fans it is handed."""

    def __init__(self):
        self.calls = []

    def __call__(self, shape, dtype=None, *, fan_in=None, fan_out=None):
        self.calls.append((tuple(shape), fan_in, fan_out))
        return ops.zeros(shape, dtype=dtype)


class BiasFansTest(testing.TestCase):
    def assertBiasFans(self, make_layer, input_shape, expected):
        recorder = FanRecorder()
        make_layer(recorder).build(input_shape)
        self.assertEqual(sorted(set(recorder.calls)), expected)

    def test_dense(self):
        self.assertBiasFans(
            lambda init: layers.Dense(5, bias_initializer=init),
            (2, 16),
            [((5,), 16, 5)],
        )

    def test_einsum_dense(self):
        self.assertBiasFans(
            lambda init: layers.EinsumDense(
                "abc,cde->abde",
                (3, 4, 5),
                bias_axes="de",
                bias_initializer=init,
            ),
            (2, 3, 6),
            [((4, 5), 6, 20)],
        )

    def test_conv(self):
        self.assertBiasFans(
            lambda init: layers.Conv2D(8, 3, groups=2, bias_initializer=init),
            (1, 9, 9, 4),
            [((8,), 9 * 2, 9 * 8)],
        )

    def test_depthwise_conv_kernel_and_bias(self):
        self.assertBiasFans(
            lambda init: layers.DepthwiseConv2D(
                3,
                depth_multiplier=2,
                depthwise_initializer=init,
                bias_initializer=init,
            ),
            (1, 9, 9, 4),
            [((3, 3, 4, 2), 9, 18), ((8,), 9, 18)],
        )

    def test_lstm_unit_forget_bias(self):
        self.assertBiasFans(
            lambda init: layers.LSTM(3, bias_initializer=init),
            (2, 5, 4),
            [((3,), 7, 12), ((6,), 7, 12)],
        )

    def test_plain_function_is_called_as_before(self):
        calls = []

        def initializer(shape, dtype=None):
            calls.append(tuple(shape))
            return np.zeros(shape)

        layer = layers.Dense(5, bias_initializer=initializer)
        layer.build((2, 16))
        self.assertEqual(calls, [(5,)])
        self.assertIs(layer.bias_initializer, initializer)

    def test_config_keeps_the_initializer(self):
        layer = layers.Dense(5, bias_initializer="he_uniform")
        layer.build((2, 16))
        config = layer.get_config()["bias_initializer"]
        self.assertEqual(config["class_name"], "HeUniform")

    def test_he_uniform_bias_spans_the_fan_in_bound(self):
        fan_in, units = 16, 4096
        bound = math.sqrt(6.0 / fan_in)
        # All `units` draws stay below q * bound with probability 1e-6.
        floor = bound * 1e-6 ** (1 / units)

        def largest(bias_initializer):
            layer = layers.Dense(units, bias_initializer=bias_initializer)
            layer.build((2, fan_in))
            return np.abs(ops.convert_to_numpy(layer.bias)).max()

        self.assertBetween(
            largest(initializers.HeUniform(seed=1)), floor, bound + 1e-6
        )
        # Without the fans (a function that does not take them), the bias is
        # drawn with fan_in = units, as before, and fails the same check.
        he_uniform = initializers.HeUniform(seed=1)
        self.assertLess(
            largest(lambda shape, dtype=None: he_uniform(shape, dtype)), floor
        )
