"""The simplify rule set.

Each test: Before IR, the pipeline, Expected IR; the two graphs also compute the same outputs on
random inputs (reference interpreter).
"""

from __future__ import annotations

from tests.passes._util import check


def test_simplify() -> None:
    """x*1, 0+x, a double transpose and a double negation vanish; an add that broadcasts stays."""
    before = """
    graph @t(%x: float32[N,4], %z: float32[N,1]) -> (float32[N,4], float32[N,4]) {
      %one = Const() {value = dense<float32[] [1.0]>} : float32[]
      %zero = Const() {value = dense<float32[4] [0.0, 0.0, 0.0, 0.0]>} : float32[4]
      %perm = Const() {value = dense<int32[2] [1, 0]>} : int32[2]
      %a = Mul(%x, %one) : float32[N,4]
      %b = AddV2(%zero, %a) : float32[N,4]
      %t1 = Transpose(%b, %perm) : float32[4,N]
      %t2 = Transpose(%t1, %perm) : float32[N,4]
      %n1 = Neg(%t2) : float32[N,4]
      %n2 = Neg(%n1) : float32[N,4]
      %w = AddV2(%z, %zero) : float32[N,4]
      return "y" = %n2, "w" = %w
    }
"""
    expected = """
    graph @t(%x: float32[N,4], %z: float32[N,1]) -> (float32[N,4], float32[N,4]) {
      %zero = Const() {value = dense<float32[4] [0.0, 0.0, 0.0, 0.0]>} : float32[4]
      %w = AddV2(%z, %zero) : float32[N,4]
      return "y" = %x, "w" = %w
    }
"""
    check("simplify", before, expected)


def test_split_concat() -> None:
    """Concat of all Split pieces in order is x; out of order it stays."""
    before = """
    graph @t(%x: float32[N,6]) -> (float32[N,6], float32[N,3,2]) {
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %s, %s:1, %s:2 = Split(%ax, %x) {num_split = 3} : float32[N,2], float32[N,2], float32[N,2]
      %c = ConcatV2(%s, %s:1, %s:2, %ax) : float32[N,6]
      %swap = ConcatV2(%s:1, %s, %s:2, %ax) : float32[N,6]
      %r = Const() {value = dense<int32[3] [-1, 3, 2]>} : int32[3]
      %rs = Reshape(%swap, %r) : float32[N,3,2]
      return "same" = %c, "swapped" = %rs
    }
"""
    expected = """
    graph @t(%x: float32[N,6]) -> (float32[N,6], float32[N,3,2]) {
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %s, %s:1, %s:2 = Split(%ax, %x) {num_split = 3} : float32[N,2], float32[N,2], float32[N,2]
      %swap = ConcatV2(%s:1, %s, %s:2, %ax) : float32[N,6]
      %r = Const() {value = dense<int32[3] [-1, 3, 2]>} : int32[3]
      %rs = Reshape(%swap, %r) : float32[N,3,2]
      return "same" = %x, "swapped" = %rs
    }
"""
    check("simplify", before, expected)
