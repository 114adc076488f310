from keras.src import initializers
from keras.src import layers
from keras.src import testing


class EinsumDenseTest(testing.TestCase):
    def test_bias_initializer_gets_the_kernel_fans(self):
        layer = layers.EinsumDense(
            "abc,cde->abde",
            (3, 4, 5),
            bias_axes="de",
            bias_initializer=initializers.HeUniform(seed=1),
        )
        layer.build((2, 3, 6))
        # The kernel (6, 4, 5) sums c = 6 inputs into each (d, e) unit.
        self.assertAllClose(
            layer.bias,
            initializers.HeUniform(seed=1)((4, 5), fan_in=6, fan_out=20),
        )
