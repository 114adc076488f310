import numpy as np

from keras.src import initializers
from keras.src import layers
from keras.src import testing


class ConvLSTMTest(testing.TestCase):
    def test_bias_initializer_gets_the_gate_fans(self):
        layer = layers.ConvLSTM1D(
            2, 3, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((2, 5, 9, 4))
        # A gate sums a 3-wide window of the 4 inputs and 2 previous outputs.
        initializer = initializers.HeUniform(seed=1)
        self.assertAllClose(
            layer.cell.bias,
            np.concatenate(
                [
                    initializer((2,), fan_in=18, fan_out=24),
                    np.ones(2),
                    initializer((4,), fan_in=18, fan_out=24),
                ]
            ),
        )
