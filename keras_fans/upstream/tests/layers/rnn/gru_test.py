from keras.src import initializers
from keras.src import layers
from keras.src import testing


class GRUTest(testing.TestCase):
    def test_bias_initializer_gets_the_gate_fans(self):
        layer = layers.GRU(6, bias_initializer=initializers.HeUniform(seed=1))
        layer.build((2, 5, 4))
        # A gate sums the 4 inputs and the 6 previous outputs.
        self.assertAllClose(
            layer.cell.bias,
            initializers.HeUniform(seed=1)((2, 18), fan_in=10, fan_out=18),
        )
