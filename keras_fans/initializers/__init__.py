from keras_fans.initializers.pytorch_uniform import PyTorchUniform

__all__ = ["PyTorchUniform"]
