"""Models and layers that live beside their chapters' helpers are reachable from the zoo
modules too, and a typo gets an AttributeError naming the module."""

import pytest

import dlbook
from dlbook import diffusion, gan, graphs, layers, models, rbm, spiking, vae


def test_models_and_layers_re_export_the_part_iv_and_v_classes():
    assert models.VAE is vae.VAE and models.GAN is gan.GAN and models.DDPM is diffusion.DDPM
    assert models.GraphRegressor is graphs.GraphRegressor and models.RBM is rbm.RBM
    assert dlbook.rbm is rbm and dlbook.checks.unit_batch  # lazy top-level modules
    assert layers.LIFCell is spiking.LIFCell and layers.GraphConv is graphs.GraphConv


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="dlbook.layers"):
        layers.GraphConvolution  # noqa: B018
    with pytest.raises(AttributeError, match="dlbook.models"):
        models.GraphRegresor  # noqa: B018
