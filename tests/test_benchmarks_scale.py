"""benchmarks/scale.py's FLOP count of the residual CNN: its list of convolutions is the one the
model builds (kernel shapes and strided ones), so the GFLOP/s column counts every product."""

import graphengine as ge
from benchmarks import scale


def test_residual_cnn_convolutions_match_the_flop_count():
    convs = [layer for layer in scale.resnet_model().layers if isinstance(layer, ge.layers.Conv2D)]
    built = sorted(tuple(layer.weights[0].shape) for layer in convs)
    counted = sorted((k, k, cin, cout) for _, k, cin, cout in scale._res_convs())
    assert built == counted
    strided = sum(layer.strides == (2, 2) for layer in convs)
    assert strided == sum(size < 32 and cin != cout for size, _, cin, cout in scale._res_convs())
