import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import testing


class LSTMTest(testing.TestCase):
    def test_bias_initializer_gets_the_gate_fans(self):
        layer = layers.LSTM(3, bias_initializer=initializers.HeUniform(seed=1))
        layer.build((2, 5, 4))
        # A gate sums the 4 inputs and the 3 previous outputs; the forget
        # gate's bias stays ones (`unit_forget_bias`).
        initializer = initializers.HeUniform(seed=1)
        self.assertAllClose(
            layer.cell.bias,
            np.concatenate(
                [
                    initializer((3,), fan_in=7, fan_out=12),
                    np.ones(3),
                    initializer((6,), fan_in=7, fan_out=12),
                ]
            ),
        )
