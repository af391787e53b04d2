"""The rule library: dense fusion, recognized chains, embedding bags.

Each test: Before IR, the pipeline, Expected IR; the two graphs also compute the same outputs on
random inputs (reference interpreter).
"""

from __future__ import annotations

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
      %y_1 = FusedDense(%x, %w, %b) {activation = "Relu"} : float32[N,2]  # from y, ba, mm  # rule fuseddense-activation
      return "y" = %y_1
    }
"""
    check("fuse-dense", before, expected)


def test_dense_shared() -> None:
    """the bias result is also an output, so the Relu is not fused into it."""
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
      %ba_1 = FusedDense(%x, %w, %b) {activation = ""} : float32[N,2]  # from ba, mm  # rule fuseddense-bias
      %y = Relu(%ba_1) : float32[N,2]
      return "y" = %y, "pre" = %ba_1
    }
"""
    check("fuse-dense", before, expected)


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
      %y_1 = Gelu(%x) : float32[N,4]  # from y, e, m, n, a  # rule gelu-erfc
      return "y" = %y_1
    }
"""
    check("recognize", before, expected)


def test_swish_not() -> None:
    """x * sigmoid(z) with z != x is not Swish."""
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
    """exp(x - max) / sum(exp) over the last axis -> Softmax."""
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
      %y_1 = Softmax(%x) : float32[N,5]  # from y, s, e, d, m  # rule softmax
      return "y" = %y_1
    }
"""
    check("recognize", before, expected)


def test_softmax_axis0_not() -> None:
    """the same chain over the batch axis is not Softmax (and must not become one)."""
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
      %y_1 = EmbeddingBag(%table, %ids) {combiner = "mean", keep_dims = false} : float32[N,2]  # from y, g  # rule embedding-bag
      return "y" = %y_1
    }
"""
    check("embedding-bag", before, expected)
