"""The rule library: dense and conv fusion, batch norm folding, recognized chains, embedding bags.

Each test: Before IR, the pipeline, Expected IR (None: the pass must not fire); the two graphs also
compute the same outputs on random inputs (reference interpreter), out-of-range ids included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.passes._util import check


def test_dense() -> None:
    """MatMul + BiasAdd + Relu -> one FusedDense."""
    before = """
    graph @t(%x: float32[N,3]) -> (float32[N,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.1, -0.2]>} : float32[2]
      %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = false} : float32[N,2]
      %ba = BiasAdd(%mm, %b) {data_format = "NHWC"} : float32[N,2]
      %y = Relu(%ba) : float32[N,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3]) -> (float32[N,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.10000000149011612, -0.20000000298023224]>} : float32[2]
      %y = FusedDense(%x, %w, %b) {activation = "Relu"} : float32[N,2]  # from y, ba, mm  # rule fuseddense-activation
      return "y" = %y
    }
"""
    check("fuse-dense", before, expected)


def test_dense_shared() -> None:
    """The bias result is also an output, so the Relu is not fused into it."""
    before = """
    graph @t(%x: float32[N,3]) -> (float32[N,2], float32[N,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.1, -0.2]>} : float32[2]
      %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = false} : float32[N,2]
      %ba = BiasAdd(%mm, %b) {data_format = "NHWC"} : float32[N,2]
      %y = Relu(%ba) : float32[N,2]
      return "y" = %y, "pre" = %ba
    }
"""
    expected = """
    graph @t(%x: float32[N,3]) -> (float32[N,2], float32[N,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.10000000149011612, -0.20000000298023224]>} : float32[2]
      %ba = FusedDense(%x, %w, %b) {activation = ""} : float32[N,2]  # from ba, mm  # rule fuseddense-bias
      %y = Relu(%ba) : float32[N,2]
      return "y" = %y, "pre" = %ba
    }
"""
    check("fuse-dense", before, expected)


def test_dense_tensordot() -> None:
    """Keras' Tensordot reshape pair around a MatMul, plus an added bias -> one rank-3 FusedDense."""
    before = """
    graph @t(%x: float32[N,5,3]) -> (float32[N,5,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %flat = Const() {value = dense<int32[2] [-1, 3]>} : int32[2]
      %unflat = Const() {value = dense<int32[3] [-1, 5, 2]>} : int32[3]
      %r = Reshape(%x, %flat) : float32[5*N,3]
      %mm = MatMul(%r, %w) {transpose_a = false, transpose_b = false} : float32[5*N,2]
      %o = Reshape(%mm, %unflat) : float32[N,5,2]
      %y = AddV2(%o, %b) : float32[N,5,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,5,3]) -> (float32[N,5,2]) {
      %w = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %y = FusedDense(%x, %w, %b) {activation = ""} : float32[N,5,2]  # from y, o, mm, r  # rule fuseddense-add-bias
      return "y" = %y
    }
"""
    check("fuse-dense", before, expected)


def test_dense_transpose_b_tanh() -> None:
    """Transpose_b is folded into the weights; Tanh fuses."""
    before = """
    graph @t(%x: float32[N,3]) -> (float32[N,2]) {
      %w = Const() {value = dense<float32[2x3] [1.0, 0.5, -0.25, -1.0, 2.0, 0.75]>} : float32[2,3]
      %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = true} : float32[N,2]
      %y = Tanh(%mm) : float32[N,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3]) -> (float32[N,2]) {
      %mm/weights_t = Const() {value = dense<float32[3x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75]>} : float32[3,2]  # from mm  # rule matmul-to-dense
      %y = FusedDense(%x, %mm/weights_t) {activation = "Tanh"} : float32[N,2]  # from y, mm  # rule fuseddense-activation
      return "y" = %y
    }
"""
    check("fuse-dense", before, expected)


def test_dense_over_a_repeated_query_splits_per_piece() -> None:
    """DIN's attention unit: FusedDense over [tile(q), k, tile(q) - k, tile(q) * k] -> q (W1 + W3)
    once per row (broadcast over the history, the bias with it), k (W2 - W3), (tile(q) * k) W4:
    no [N, T, 4d] concatenation and half the products; the activation after the sum."""
    before = """
    graph @t(%q: float32[N,1,2], %k: float32[N,3,2]) -> (float32[N,3,2]) {
      %a1 = Const() {value = dense<int32[] [1]>} : int32[]
      %af = Const() {value = dense<int32[] [-1]>} : int32[]
      %qt = ConcatV2(%q, %q, %q, %a1) : float32[N,3,2]
      %sub = Sub(%qt, %k) : float32[N,3,2]
      %mul = Mul(%qt, %k) : float32[N,3,2]
      %x = ConcatV2(%qt, %k, %sub, %mul, %af) : float32[N,3,8]
      %w = Const() {value = dense<float32[8x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75, 1.5, 0.5, -2.0, 1.0, 0.25, -0.5, 3.0, 1.0, -1.5, 0.125]>} : float32[8,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %y = FusedDense(%x, %w, %b) {activation = "Relu"} : float32[N,3,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%q: float32[N,1,2], %k: float32[N,3,2]) -> (float32[N,3,2]) {
      %a1 = Const() {value = dense<int32[] [1]>} : int32[]
      %qt = ConcatV2(%q, %q, %q, %a1) : float32[N,3,2]
      %mul = Mul(%qt, %k) : float32[N,3,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %y/part0/w = Const() {value = dense<float32[2x2] [-1.0, 0.0, 0.75, 1.5]>} : float32[2,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part0 = FusedDense(%q, %y/part0/w) {activation = ""} : float32[N,1,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part1/w = Const() {value = dense<float32[2x2] [1.75, -0.25, 1.25, 1.0]>} : float32[2,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part1 = FusedDense(%k, %y/part1/w) {activation = ""} : float32[N,3,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part2/w = Const() {value = dense<float32[2x2] [3.0, 1.0, -1.5, 0.125]>} : float32[2,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part2 = FusedDense(%mul, %y/part2/w) {activation = ""} : float32[N,3,2]  # from y, x  # rule dense-of-repeated-concat
      %y/part2/sum = AddV2(%y/part1, %y/part2) : float32[N,3,2]  # from y, x  # rule dense-of-repeated-concat
      %y/bias = AddV2(%y/part0, %b) : float32[N,1,2]  # from y, x  # rule dense-of-repeated-concat
      %y/sum = AddV2(%y/part2/sum, %y/bias) : float32[N,3,2]  # from y, x  # rule dense-of-repeated-concat
      %y/activation = Relu(%y/sum) : float32[N,3,2]  # from y, x  # rule dense-of-repeated-concat
      return "y" = %y/activation
    }
"""
    check("split-dense", before, expected)


def test_dense_over_a_concat_without_repeats_is_kept() -> None:
    """No piece repeats along a non-feature axis: nothing to take before a repetition."""
    before = """
    graph @t(%q: float32[N,3,2], %k: float32[N,3,2]) -> (float32[N,3,2]) {
      %af = Const() {value = dense<int32[] [-1]>} : int32[]
      %sub = Sub(%q, %k) : float32[N,3,2]
      %x = ConcatV2(%q, %k, %sub, %af) : float32[N,3,6]
      %w = Const() {value = dense<float32[6x2] [1.0, -1.0, 0.5, 2.0, -0.25, 0.75, 1.5, 0.5, -2.0, 1.0, 0.25, -0.5]>} : float32[6,2]
      %y = FusedDense(%x, %w) {activation = ""} : float32[N,3,2]
      return "y" = %y
    }
"""
    check("split-dense", before, None)


def test_dense_variable_weights_not() -> None:
    """Weights that are not constants are left as a MatMul."""
    before = """
    graph @t(%x: float32[N,3], %w: float32[N,3]) -> (float32[N,N]) {
      %mm = MatMul(%x, %w) {transpose_a = false, transpose_b = true} : float32[N,N]
      return "y" = %mm
    }
"""
    expected = None
    check("fuse-dense", before, expected)


def test_conv_bn_relu6() -> None:
    """Conv2D + inference BatchNorm + Relu6 -> one FusedConv2D with folded weights, 1x1 as matmul."""
    before = """
    graph @t(%x: float32[N,4,4,2]) -> (float32[N,4,4,2]) {
      %w = Const() {value = dense<float32[1x1x2x2] [1.0, -0.5, 0.25, 2.0]>} : float32[1,1,2,2]
      %scale = Const() {value = dense<float32[2] [1.5, 0.5]>} : float32[2]
      %offset = Const() {value = dense<float32[2] [0.1, -0.1]>} : float32[2]
      %mean = Const() {value = dense<float32[2] [0.2, -0.3]>} : float32[2]
      %var = Const() {value = dense<float32[2] [0.9, 1.1]>} : float32[2]
      %c = Conv2D(%x, %w) {data_format = "NHWC", dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "SAME", strides = [1, 1, 1, 1]} : float32[N,4,4,2]
      %bn, %bn:1, %bn:2, %bn:3, %bn:4, %bn:5 = FusedBatchNormV3(%c, %scale, %offset, %mean, %var) {data_format = "NHWC", epsilon = 0.001, exponential_avg_factor = 1.0, is_training = false} : float32[N,4,4,2], float32[2], float32[2], float32[2], float32[2], float32[0]
      %y = Relu6(%bn) : float32[N,4,4,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4,4,2]) -> (float32[N,4,4,2]) {
      %bn/folded_weights = Const() {value = dense<float32[1x1x2x2] [1.58026123046875, -0.23825736343860626, 0.3950653076171875, 0.953029453754425]>} : float32[1,1,2,2]  # from bn, c  # rule conv-batchnorm
      %bn/folded_bias = Const() {value = dense<float32[2] [-0.21605223417282104, 0.042954426258802414]>} : float32[2]  # from bn, c  # rule conv-batchnorm
      %y = FusedConv2D(%x, %bn/folded_weights, %bn/folded_bias) {activation = "Relu6", algorithm = "matmul", data_format = "NHWC", depthwise = false, dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "SAME", strides = [1, 1, 1, 1]} : float32[N,4,4,2]  # from y, bn, c  # rule pointwise-conv-as-matmul
      return "y" = %y
    }
"""
    check("fold-batchnorm,fuse-conv,conv-algorithm", before, expected)


def test_depthwise_bn() -> None:
    """A depthwise conv absorbs its batch norm and runs as taps."""
    before = """
    graph @t(%x: float32[N,5,5,1]) -> (float32[N,3,3,1]) {
      %w = Const() {value = dense<float32[3x3x1x1] [1.0, -0.5, 0.25, 2.0, 0.5, -1.0, 0.75, 0.1, -0.2]>} : float32[3,3,1,1]
      %scale = Const() {value = dense<float32[1] [1.5]>} : float32[1]
      %offset = Const() {value = dense<float32[1] [0.1]>} : float32[1]
      %mean = Const() {value = dense<float32[1] [0.2]>} : float32[1]
      %var = Const() {value = dense<float32[1] [0.9]>} : float32[1]
      %c = DepthwiseConv2dNative(%x, %w) {data_format = "NHWC", dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "VALID", strides = [1, 2, 2, 1]} : float32[N,2,2,1]
      %bn, %bn:1, %bn:2, %bn:3, %bn:4 = FusedBatchNorm(%c, %scale, %offset, %mean, %var) {data_format = "NHWC", epsilon = 0.001, exponential_avg_factor = 1.0, is_training = false} : float32[N,2,2,1], float32[1], float32[1], float32[1], float32[1]
      return "y" = %bn
    }
"""
    expected = """
    graph @t(%x: float32[N,5,5,1]) -> (float32[N,2,2,1]) {
      %bn/folded_weights = Const() {value = dense<float32[3x3x1x1] [1.58026123046875, -0.790130615234375, 0.3950653076171875, 3.1605224609375, 0.790130615234375, -1.58026123046875, 1.1851959228515625, 0.15802611410617828, -0.31605222821235657]>} : float32[3,3,1,1]  # from bn, c  # rule conv-batchnorm
      %bn/folded_bias = Const() {value = dense<float32[1] [-0.21605223417282104]>} : float32[1]  # from bn, c  # rule conv-batchnorm
      %bn = FusedConv2D(%x, %bn/folded_weights, %bn/folded_bias) {activation = "", algorithm = "taps", data_format = "NHWC", depthwise = true, dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "VALID", strides = [1, 2, 2, 1]} : float32[N,2,2,1]  # from bn, c  # rule depthwise-conv-as-taps
      return "y" = %bn
    }
"""
    check("fold-batchnorm,fuse-conv,conv-algorithm", before, expected)


def test_bn_affine() -> None:
    """A batch norm with no conv before it becomes x * s + t."""
    before = """
    graph @t(%x: float32[N,2]) -> (float32[N,2]) {
      %scale = Const() {value = dense<float32[2] [1.5, 0.5]>} : float32[2]
      %offset = Const() {value = dense<float32[2] [0.1, -0.1]>} : float32[2]
      %mean = Const() {value = dense<float32[2] [0.2, -0.3]>} : float32[2]
      %var = Const() {value = dense<float32[2] [0.9, 1.1]>} : float32[2]
      %bn, %bn:1, %bn:2, %bn:3, %bn:4 = FusedBatchNorm(%x, %scale, %offset, %mean, %var) {data_format = "NHWC", epsilon = 0.001, exponential_avg_factor = 1.0, is_training = false} : float32[N,2], float32[2], float32[2], float32[2], float32[2]
      return "y" = %bn
    }
"""
    expected = """
    graph @t(%x: float32[N,2]) -> (float32[N,2]) {
      %bn/scale = Const() {value = dense<float32[2] [1.58026123046875, 0.4765147268772125]>} : float32[2]  # from bn  # rule batchnorm-affine
      %bn/mul = Mul(%x, %bn/scale) : float32[N,2]  # from bn  # rule batchnorm-affine
      %bn/shift = Const() {value = dense<float32[2] [-0.21605223417282104, 0.042954426258802414]>} : float32[2]  # from bn  # rule batchnorm-affine
      %bn = AddV2(%bn/mul, %bn/shift) : float32[N,2]  # rule batchnorm-affine
      return "y" = %bn
    }
"""
    check("fold-batchnorm", before, expected)


def test_conv_strided_stays_xla() -> None:
    """A strided 1x1 convolution keeps XLA's convolution."""
    before = """
    graph @t(%x: float32[N,4,4,2]) -> (float32[N,2,2,2]) {
      %w = Const() {value = dense<float32[1x1x2x2] [1.0, -0.5, 0.25, 2.0]>} : float32[1,1,2,2]
      %c = Conv2D(%x, %w) {data_format = "NHWC", dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "SAME", strides = [1, 2, 2, 1]} : float32[N,2,2,2]
      return "y" = %c
    }
"""
    expected = """
    graph @t(%x: float32[N,4,4,2]) -> (float32[N,2,2,2]) {
      %w = Const() {value = dense<float32[1x1x2x2] [1.0, -0.5, 0.25, 2.0]>} : float32[1,1,2,2]
      %c = FusedConv2D(%x, %w) {activation = "", algorithm = "xla", data_format = "NHWC", depthwise = false, dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "SAME", strides = [1, 2, 2, 1]} : float32[N,2,2,2]  # rule conv-to-fused
      return "y" = %c
    }
"""
    check("fuse-conv,conv-algorithm", before, expected)


def test_gelu() -> None:
    """TensorFlow's exact GELU chain -> Gelu."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %half = Const() {value = dense<float32[] [0.5]>} : float32[]
      %r = Const() {value = dense<float32[] [0.7071067690849304]>} : float32[]
      %a = Mul(%half, %x) : float32[N,4]
      %n = Neg(%x) : float32[N,4]
      %m = Mul(%n, %r) : float32[N,4]
      %e = Erfc(%m) : float32[N,4]
      %y = Mul(%a, %e) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Gelu(%x) : float32[N,4]  # from y, e, m, n, a  # rule gelu-erfc
      return "y" = %y
    }
"""
    check("recognize", before, expected)


def test_layer_norm() -> None:
    """Keras LayerNormalization's chain -> LayerNorm."""
    before = """
    graph @t(%x: float32[N,3,4]) -> (float32[N,3,4]) {
      %ax = Const() {value = dense<int32[1] [2]>} : int32[1]
      %eps = Const() {value = dense<float32[] [0.001]>} : float32[]
      %gamma = Const() {value = dense<float32[4] [1.0, 2.0, 0.5, 1.5]>} : float32[4]
      %beta = Const() {value = dense<float32[4] [0.0, 0.1, -0.1, 0.2]>} : float32[4]
      %mean = Mean(%x, %ax) {keep_dims = true} : float32[N,3,1]
      %sq = SquaredDifference(%x, %mean) : float32[N,3,4]
      %var = Mean(%sq, %ax) {keep_dims = true} : float32[N,3,1]
      %ve = AddV2(%var, %eps) : float32[N,3,1]
      %rs = Rsqrt(%ve) : float32[N,3,1]
      %r = Mul(%rs, %gamma) : float32[N,3,4]
      %xr = Mul(%x, %r) : float32[N,3,4]
      %mr = Mul(%mean, %r) : float32[N,3,4]
      %sh = Sub(%beta, %mr) : float32[N,3,4]
      %y = AddV2(%xr, %sh) : float32[N,3,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3,4]) -> (float32[N,3,4]) {
      %gamma = Const() {value = dense<float32[4] [1.0, 2.0, 0.5, 1.5]>} : float32[4]
      %beta = Const() {value = dense<float32[4] [0.0, 0.10000000149011612, -0.10000000149011612, 0.20000000298023224]>} : float32[4]
      %y = LayerNorm(%x, %gamma, %beta) {epsilon = 0.0010000000474974513} : float32[N,3,4]  # from y, sh, mr, xr, r, rs, ve, var, sq, mean  # rule layer-norm
      return "y" = %y
    }
"""
    check("recognize", before, expected)


def test_gelu_erf_swish_softmax_unshifted() -> None:
    """Erf GELU (two spellings), x*sigmoid(x) and exp/sum(exp) are recognized."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4], float32[N,4], float32[N,4], float32[N,4]) {
      %half = Const() {value = dense<float32[] [0.5]>} : float32[]
      %one = Const() {value = dense<float32[] [1.0]>} : float32[]
      %r = Const() {value = dense<float32[] [0.7071067690849304]>} : float32[]
      %s2 = Const() {value = dense<float32[] [1.4142135381698608]>} : float32[]
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %a = Mul(%x, %half) : float32[N,4]
      %m = Mul(%x, %r) : float32[N,4]
      %e = Erf(%m) : float32[N,4]
      %p = AddV2(%e, %one) : float32[N,4]
      %g1 = Mul(%a, %p) : float32[N,4]
      %d = RealDiv(%x, %s2) : float32[N,4]
      %e2 = Erf(%d) : float32[N,4]
      %p2 = AddV2(%one, %e2) : float32[N,4]
      %g2 = Mul(%p2, %a) : float32[N,4]
      %sg = Sigmoid(%x) : float32[N,4]
      %sw = Mul(%sg, %x) : float32[N,4]
      %ex = Exp(%x) : float32[N,4]
      %su = Sum(%ex, %ax) {keep_dims = true} : float32[N,1]
      %sm = RealDiv(%ex, %su) : float32[N,4]
      return "g1" = %g1, "g2" = %g2, "sw" = %sw, "sm" = %sm
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4], float32[N,4], float32[N,4], float32[N,4]) {
      %g1 = Gelu(%x) : float32[N,4]  # from g1, p, e, m, a  # rule gelu-erf
      %g2 = Gelu(%x) : float32[N,4]  # from g2, p2, e2, d, a  # rule gelu-erf-div
      %sw = Swish(%x) : float32[N,4]  # from sw, sg  # rule swish
      %sm = Softmax(%x) : float32[N,4]  # from sm, su, ex  # rule softmax-unshifted
      return "g1" = %g1, "g2" = %g2, "sw" = %sw, "sm" = %sm
    }
"""
    check("recognize", before, expected)


def test_swish_not() -> None:
    """X * sigmoid(z) with z != x is not Swish."""
    before = """
    graph @t(%x: float32[N,4], %z: float32[N,4]) -> (float32[N,4]) {
      %s = Sigmoid(%z) : float32[N,4]
      %y = Mul(%x, %s) : float32[N,4]
      return "y" = %y
    }
"""
    expected = None
    check("recognize", before, expected)


def test_softmax() -> None:
    """Exp(x - max) / sum(exp) over the last axis -> Softmax."""
    before = """
    graph @t(%x: float32[N,5]) -> (float32[N,5]) {
      %ax = Const() {value = dense<int32[1] [-1]>} : int32[1]
      %m = Max(%x, %ax) {keep_dims = true} : float32[N,1]
      %d = Sub(%x, %m) : float32[N,5]
      %e = Exp(%d) : float32[N,5]
      %s = Sum(%e, %ax) {keep_dims = true} : float32[N,1]
      %y = RealDiv(%e, %s) : float32[N,5]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,5]) -> (float32[N,5]) {
      %y = Softmax(%x) : float32[N,5]  # from y, s, e, d, m  # rule softmax
      return "y" = %y
    }
"""
    check("recognize", before, expected)


def test_softmax_axis0_not() -> None:
    """The same chain over the batch axis is not Softmax (and must not become one)."""
    before = """
    graph @t(%x: float32[N,5]) -> (float32[N,5]) {
      %ax = Const() {value = dense<int32[1] [0]>} : int32[1]
      %m = Max(%x, %ax) {keep_dims = true} : float32[1,5]
      %d = Sub(%x, %m) : float32[N,5]
      %e = Exp(%d) : float32[N,5]
      %s = Sum(%e, %ax) {keep_dims = true} : float32[1,5]
      %y = RealDiv(%e, %s) : float32[N,5]
      return "y" = %y
    }
"""
    expected = None
    check("recognize", before, expected)


def test_bag() -> None:
    """Mean over the bag axis of a table gather -> EmbeddingBag."""
    before = """
    graph @t(%ids: int32[N,3]) -> (float32[N,2]) {
      %table = Const() {value = dense<float32[5x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]>} : float32[5,2]
      %zero = Const() {value = dense<int32[] [0]>} : int32[]
      %one = Const() {value = dense<int32[] [1]>} : int32[]
      %g = GatherV2(%table, %ids, %zero) {batch_dims = 0} : float32[N,3,2]
      %y = Mean(%g, %one) {keep_dims = false} : float32[N,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%ids: int32[N,3]) -> (float32[N,2]) {
      %table = Const() {value = dense<float32[5x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]>} : float32[5,2]
      %y = EmbeddingBag(%table, %ids) {combiner = "mean", keep_dims = false} : float32[N,2]  # from y, g  # rule embedding-bag
      return "y" = %y
    }
"""
    check("embedding-bag", before, expected)


def test_bag_wrong_axis_not() -> None:
    """A sum over the batch axis of a gather is not an embedding bag."""
    before = """
    graph @t(%ids: int32[N,3]) -> (float32[3,2]) {
      %table = Const() {value = dense<float32[5x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]>} : float32[5,2]
      %zero = Const() {value = dense<int32[] [0]>} : int32[]
      %g = GatherV2(%table, %ids, %zero) {batch_dims = 0} : float32[N,3,2]
      %y = Sum(%g, %zero) {keep_dims = false} : float32[3,2]
      return "y" = %y
    }
"""
    expected = None
    check("embedding-bag", before, expected)


def test_every_rule_has_a_before_expected_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule of the library fires in at least one Before/Expected case of tests/passes."""
    import importlib

    from fourier.passes.rules import all_rules
    from tests.passes import _util

    fired: set[str] = set()

    def recording_check(pipeline: str, before: str, expected: str | None) -> object:
        report = _util.check(pipeline, before, expected)
        for r in report.records:
            fired.update(r.stats)
        return report

    for name in ("test_cleanup", "test_algebraic", "test_rules", "test_fusion"):
        module = importlib.import_module(f"tests.passes.{name}")
        monkeypatch.setattr(module, "check", recording_check)
        for attr in dir(module):
            if attr.startswith("test_") and attr != "test_every_rule_has_a_before_expected_case":
                getattr(module, attr)()
    missing = sorted(set(all_rules()) - fired)
    assert missing == [], f"rules with no Before/Expected case: {missing}"


def test_conv_add_bias() -> None:
    """A convolution followed by + b (a constant vector) takes b as its bias."""
    before = """
    graph @t(%x: float32[N,3,3,2]) -> (float32[N,3,3,2]) {
      %w = Const() {value = dense<float32[1x1x2x2] [1.0, -0.5, 0.25, 2.0]>} : float32[1,1,2,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %c = Conv2D(%x, %w) {data_format = "NHWC", dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "VALID", strides = [1, 1, 1, 1]} : float32[N,3,3,2]
      %y = AddV2(%c, %b) : float32[N,3,3,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3,3,2]) -> (float32[N,3,3,2]) {
      %w = Const() {value = dense<float32[1x1x2x2] [1.0, -0.5, 0.25, 2.0]>} : float32[1,1,2,2]
      %b = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %y = FusedConv2D(%x, %w, %b) {activation = "", algorithm = "xla", data_format = "NHWC", depthwise = false, dilations = [1, 1, 1, 1], explicit_paddings = [], padding = "VALID", strides = [1, 1, 1, 1]} : float32[N,3,3,2]  # from y, c  # rule fusedconv2d-add-bias
      return "y" = %y
    }
"""
    check("fuse-conv", before, expected)


def test_every_rule_says_its_algebra_and_where_it_is_defined() -> None:
    """A rule's doc is its algebra (shown in the HTML report); its location is the ``Rule(`` call."""
    import re

    from fourier.passes.rules import all_rules

    root = Path(__file__).parents[2]
    for name, (_, rule) in all_rules().items():
        assert "->" in rule.doc, f"{name}: doc {rule.doc!r} is not its algebra"
        m = re.fullmatch(r"(passes/rules/\w+\.py):(\d+)", rule.location)
        assert m, f"{name}: location {rule.location!r}"
        line = (root / m.group(1)).read_text().splitlines()[int(m.group(2)) - 1]
        assert "Rule(" in line, f"{name}: {rule.location} is {line!r}"


def test_pairwise_field_dots() -> None:
    """deepctr FwFM in miniature: a sum of weighted dots of field pairs of one [N, F, D] tensor
    (fields sliced out, the second reshaped into a column) is one product with the [F, F] weights,
    whichever side of each product the weight is on."""
    before = """
    graph @t(%e: float32[N,3,2]) -> (float32[N,1]) {
      %b0 = Const() {value = dense<int32[3] [0, 0, 0]>} : int32[3]
      %b1 = Const() {value = dense<int32[3] [0, 1, 0]>} : int32[3]
      %b2 = Const() {value = dense<int32[3] [0, 2, 0]>} : int32[3]
      %size = Const() {value = dense<int32[3] [-1, 1, -1]>} : int32[3]
      %col = Const() {value = dense<int32[3] [-1, 2, 1]>} : int32[3]
      %s0 = Slice(%e, %b0, %size) : float32[N,1,2]
      %s1 = Slice(%e, %b1, %size) : float32[N,1,2]
      %s2 = Slice(%e, %b2, %size) : float32[N,1,2]
      %t1 = Reshape(%s1, %col) : float32[N,2,1]
      %t2 = Reshape(%s2, %col) : float32[N,2,1]
      %d01 = BatchMatMulV2(%s0, %t1) {adj_x = false, adj_y = false} : float32[N,1,1]
      %d02 = BatchMatMulV2(%s0, %t2) {adj_x = false, adj_y = false} : float32[N,1,1]
      %d12 = BatchMatMulV2(%s1, %t2) {adj_x = false, adj_y = false} : float32[N,1,1]
      %q01 = Squeeze(%d01) {squeeze_dims = [1]} : float32[N,1]
      %q02 = Squeeze(%d02) {squeeze_dims = [1]} : float32[N,1]
      %q12 = Squeeze(%d12) {squeeze_dims = [1]} : float32[N,1]
      %c01 = Const() {value = dense<float32[] [0.5]>} : float32[]
      %c02 = Const() {value = dense<float32[] [-1.25]>} : float32[]
      %c12 = Const() {value = dense<float32[] [2.0]>} : float32[]
      %m01 = Mul(%c01, %q01) : float32[N,1]
      %m02 = Mul(%q02, %c02) : float32[N,1]
      %m12 = Mul(%c12, %q12) : float32[N,1]
      %y = AddN(%m01, %m02, %m12) : float32[N,1]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%e: float32[N,3,2]) -> (float32[N,1]) {
      %y/perm = Const() {value = dense<int32[3] [0, 2, 1]>} : int32[3]  # from y  # rule pairwise-field-dots
      %y/fields_last = Transpose(%e, %y/perm) : float32[N,2,3]  # from y  # rule pairwise-field-dots
      %y/weights = Const() {value = dense<float32[3x3] [0.0, 0.5, -1.25, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]>} : float32[3,3]  # from y  # rule pairwise-field-dots
      %y/weighted = BatchMatMulV2(%y/fields_last, %y/weights) {adj_x = false, adj_y = false} : float32[N,2,3]  # from y  # rule pairwise-field-dots
      %y/products = Mul(%y/weighted, %y/fields_last) : float32[N,2,3]  # from y  # rule pairwise-field-dots
      %y/axes = Const() {value = dense<int32[2] [1, 2]>} : int32[2]  # from y  # rule pairwise-field-dots
      %y/sum = Sum(%y/products, %y/axes) {keep_dims = false} : float32[N]  # from y  # rule pairwise-field-dots
      %y/axis = Const() {value = dense<int32[] [-1]>} : int32[]  # from y  # rule pairwise-field-dots
      %y = ExpandDims(%y/sum, %y/axis) : float32[N,1]  # rule pairwise-field-dots
      return "y" = %y
    }
"""
    check("recognize,prune", before, expected)


def test_pairwise_dots_of_part_of_a_field_are_kept() -> None:
    """Dots of half a field with another half are not field pairs: nothing fires."""
    before = """
    graph @t(%e: float32[N,2,2]) -> (float32[N,1]) {
      %b0 = Const() {value = dense<int32[3] [0, 0, 0]>} : int32[3]
      %b1 = Const() {value = dense<int32[3] [0, 1, 1]>} : int32[3]
      %size = Const() {value = dense<int32[3] [-1, 1, 1]>} : int32[3]
      %col = Const() {value = dense<int32[3] [-1, 1, 1]>} : int32[3]
      %s0 = Slice(%e, %b0, %size) : float32[N,1,1]
      %s1 = Slice(%e, %b1, %size) : float32[N,1,1]
      %t1 = Reshape(%s1, %col) : float32[N,1,1]
      %t0 = Reshape(%s0, %col) : float32[N,1,1]
      %d = BatchMatMulV2(%s0, %t1) {adj_x = false, adj_y = false} : float32[N,1,1]
      %d2 = BatchMatMulV2(%s1, %t0) {adj_x = false, adj_y = false} : float32[N,1,1]
      %q = Squeeze(%d) {squeeze_dims = [1]} : float32[N,1]
      %q2 = Squeeze(%d2) {squeeze_dims = [1]} : float32[N,1]
      %c = Const() {value = dense<float32[] [0.5]>} : float32[]
      %m = Mul(%c, %q) : float32[N,1]
      %m2 = Mul(%c, %q2) : float32[N,1]
      %y = AddN(%m, %m2) : float32[N,1]
      return "y" = %y
    }
"""
    check("recognize", before, None)
