"""Cleanup passes: prune, dce, strip-identity, fold-constants, cse.

Each test: Before IR, the pipeline, Expected IR (None: the pass must not fire); the two graphs also
compute the same outputs on random inputs (reference interpreter), out-of-range ids included.
"""

from __future__ import annotations

from tests.passes._util import check


def test_prune() -> None:
    """A node no output reads is removed."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %dead = Neg(%x) : float32[N,4]
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    check("prune", before, expected)


def test_dce() -> None:
    """Dce is prune under its conventional name."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %c = Const() {value = dense<float32[] [2.0]>} : float32[]
      %dead = Mul(%x, %c) : float32[N,4]
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    check("dce", before, expected)


def test_strip_identity() -> None:
    """Identity, StopGradient and Snapshot are forwarded."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Identity(%x) : float32[N,4]
      %b = StopGradient(%a) : float32[N,4]
      %y = Relu(%b) : float32[N,4]
      %z = Snapshot(%y) : float32[N,4]
      return "y" = %z
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    check("strip-identity", before, expected)


def test_fold_constants() -> None:
    """A product of two constants becomes one constant."""
    before = """
    graph @t(%x: float32[N,3]) -> (float32[N,3]) {
      %a = Const() {value = dense<float32[3] [1.0, 2.0, 3.0]>} : float32[3]
      %b = Const() {value = dense<float32[3] [0.5, 0.5, 0.5]>} : float32[3]
      %c = Mul(%a, %b) : float32[3]
      %y = AddV2(%x, %c) : float32[N,3]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3]) -> (float32[N,3]) {
      %c/folded = Const() {value = dense<float32[3] [0.5, 1.0, 1.5]>} : float32[3]  # from c  # rule fold-constant
      %y = AddV2(%x, %c/folded) : float32[N,3]
      return "y" = %y
    }
"""
    check("fold-constants,prune", before, expected)


def test_fold_shape() -> None:
    """Shape arithmetic on static dims folds; the batch dim stays -1."""
    before = """
    graph @t(%x: float32[N,2,3]) -> (float32[N,6]) {
      %s = Shape(%x) {out_type = "int32"} : int32[3]
      %i = Const() {value = dense<int32[1] [1]>} : int32[1]
      %j = Const() {value = dense<int32[1] [3]>} : int32[1]
      %one = Const() {value = dense<int32[1] [1]>} : int32[1]
      %tail = StridedSlice(%s, %i, %j, %one) {begin_mask = 0, ellipsis_mask = 0, end_mask = 0, new_axis_mask = 0, shrink_axis_mask = 0} : int32[2]
      %ax = Const() {value = dense<int32[] [0]>} : int32[]
      %p = Prod(%tail, %ax) {keep_dims = true} : int32[1]
      %m1 = Const() {value = dense<int32[1] [-1]>} : int32[1]
      %shape = ConcatV2(%m1, %p, %ax) : int32[2]
      %y = Reshape(%x, %shape) : float32[N,6]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,2,3]) -> (float32[N,6]) {
      %shape/folded = Const() {value = dense<int32[2] [-1, 6]>} : int32[2]  # from shape  # rule fold-constant
      %y = Reshape(%x, %shape/folded) : float32[N,6]
      return "y" = %y
    }
"""
    check("fold-constants,prune", before, expected)


def test_fold_too_big() -> None:
    """A Fill above max-elements is not folded (folding never allocates without bound)."""
    before = """
    graph @t(%x: float32[N,8]) -> (float32[N,8]) {
      %v = Const() {value = dense<float32[] [2.0]>} : float32[]
      %d = Const() {value = dense<int32[1] [8]>} : int32[1]
      %f = Fill(%d, %v) : float32[8]
      %y = Mul(%x, %f) : float32[N,8]
      return "y" = %y
    }
"""
    expected = None
    check("fold-constants{max-elements=4}", before, expected)


def test_cse() -> None:
    """Duplicate constants and commuted duplicate products merge, then their readers."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %c1 = Const() {value = dense<float32[] [2.0]>} : float32[]
      %c2 = Const() {value = dense<float32[] [2.0]>} : float32[]
      %a = Mul(%x, %c1) : float32[N,4]
      %b = Mul(%c2, %x) : float32[N,4]
      %ra = Relu(%a) : float32[N,4]
      %rb = Relu(%b) : float32[N,4]
      %y = AddV2(%ra, %rb) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %c1 = Const() {value = dense<float32[] [2.0]>} : float32[]
      %a = Mul(%x, %c1) : float32[N,4]
      %ra = Relu(%a) : float32[N,4]
      %y = AddV2(%ra, %ra) : float32[N,4]
      return "y" = %y
    }
"""
    check("cse", before, expected)


def test_cse_no_merge() -> None:
    """Sub is not commutative, and different constants differ: nothing merges."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %c1 = Const() {value = dense<float32[] [2.0]>} : float32[]
      %c2 = Const() {value = dense<float32[] [3.0]>} : float32[]
      %a = Sub(%x, %c1) : float32[N,4]
      %b = Sub(%c1, %x) : float32[N,4]
      %c = Sub(%x, %c2) : float32[N,4]
      %s = AddV2(%a, %b) : float32[N,4]
      %y = AddV2(%s, %c) : float32[N,4]
      return "y" = %y
    }
"""
    expected = None
    check("cse", before, expected)


def test_strip_identity_forwards_identity_n() -> None:
    """Each output of IdentityN (Keras's custom-gradient swish) is its matching input."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %s = Sigmoid(%x) : float32[N,4]
      %m = Mul(%x, %s) : float32[N,4]
      %id, %id:1 = IdentityN(%m, %x) : float32[N,4], float32[N,4]
      %y = Relu(%id) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %s = Sigmoid(%x) : float32[N,4]
      %m = Mul(%x, %s) : float32[N,4]
      %y = Relu(%m) : float32[N,4]
      return "y" = %y
    }
"""
    check("strip-identity,prune", before, expected)
