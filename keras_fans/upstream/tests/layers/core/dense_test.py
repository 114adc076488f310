from keras.src import initializers
from keras.src import layers
from keras.src import testing


class DenseTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.Dense(
            64, bias_initializer=initializers.HeUniform(seed=1)
        )
        layer.build((2, 4))
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=1)((64,), fan_in=4, fan_out=64),
        )
