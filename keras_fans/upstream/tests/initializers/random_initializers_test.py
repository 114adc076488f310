import numpy as np

from keras.src import initializers
from keras.src import testing


class RandomInitializersTest(testing.TestCase):
    def test_variance_scaling_with_fans(self):
        initializer = initializers.HeUniform(seed=1)
        # fan_in 16 instead of the shape's 4: the same draw, its limit
        # sqrt(6 / fan_in) halved.
        self.assertAllClose(
            initializer((4, 3), fan_in=16, fan_out=3),
            np.asarray(initializer((4, 3))) * 0.5,
        )

    def test_with_fans(self):
        def plain(shape, dtype=None):
            return np.zeros(shape)

        class Subclass(initializers.HeUniform):
            def __call__(self, shape, dtype=None):
                return super().__call__(shape, dtype=dtype)

        # Not declaring `fan_in` and `fan_out`: called as before.
        for initializer in (None, plain, Subclass(seed=1)):
            self.assertIs(
                initializers.with_fans(initializer, 16, 3), initializer
            )
        initializer = initializers.HeUniform(seed=1)
        self.assertAllClose(
            initializers.with_fans(initializer, 16, 3)((4, 3)),
            initializer((4, 3), fan_in=16, fan_out=3),
        )
