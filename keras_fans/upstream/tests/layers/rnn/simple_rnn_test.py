from keras.src import initializers
from keras.src import layers
from keras.src import testing


class SimpleRNNTest(testing.TestCase):
    def test_bias_initializer_gets_the_gate_fans(self):
        layer = layers.SimpleRNN(
            6, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((2, 5, 4))
        # A unit sums the 4 inputs and the 6 previous outputs.
        self.assertAllClose(
            layer.cell.bias,
            initializers.HeUniform(seed=1)((6,), fan_in=10, fan_out=6),
        )
