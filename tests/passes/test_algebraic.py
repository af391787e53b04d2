"""The simplify rule set.

Each test: Before IR, the pipeline, Expected IR (None: the pass must not fire); the two graphs also
compute the same outputs on random inputs (reference interpreter), out-of-range ids included.
"""

from __future__ import annotations

from tests.passes._util import check


def test_simplify() -> None:
    """X*1, 0+x, a double transpose and a double negation vanish; an add that broadcasts stays."""
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


def test_div_one() -> None:
    """X/1 and x-0 vanish."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %one = Const() {value = dense<float32[] [1.0]>} : float32[]
      %zero = Const() {value = dense<float32[] [0.0]>} : float32[]
      %a = RealDiv(%x, %one) : float32[N,4]
      %b = Sub(%a, %zero) : float32[N,4]
      %y = Relu(%b) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    check("simplify", before, expected)


def test_transpose_identity() -> None:
    """A transpose by the identity permutation vanishes."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %perm = Const() {value = dense<int32[2] [0, 1]>} : int32[2]
      %t = Transpose(%x, %perm) : float32[N,4]
      %y = Relu(%t) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %y = Relu(%x) : float32[N,4]
      return "y" = %y
    }
"""
    check("simplify", before, expected)


def test_reshapes() -> None:
    """A reshape to its own type vanishes; a reshape of a reshape reads the source."""
    before = """
    graph @t(%x: float32[N,6]) -> (float32[N,6], float32[N,3,2]) {
      %s1 = Const() {value = dense<int32[2] [-1, 6]>} : int32[2]
      %s2 = Const() {value = dense<int32[3] [-1, 2, 3]>} : int32[3]
      %s3 = Const() {value = dense<int32[3] [-1, 3, 2]>} : int32[3]
      %a = Reshape(%x, %s1) : float32[N,6]
      %b = Reshape(%a, %s2) : float32[N,2,3]
      %c = Reshape(%b, %s3) : float32[N,3,2]
      %d = Relu(%a) : float32[N,6]
      return "d" = %d, "c" = %c
    }
"""
    expected = """
    graph @t(%x: float32[N,6]) -> (float32[N,6], float32[N,3,2]) {
      %s3 = Const() {value = dense<int32[3] [-1, 3, 2]>} : int32[3]
      %c = Reshape(%x, %s3) : float32[N,3,2]  # from c, b  # rule reshape-reshape
      %d = Relu(%x) : float32[N,6]
      return "d" = %d, "c" = %c
    }
"""
    check("simplify", before, expected)


def test_cast_tile_slice() -> None:
    """A cast to its own dtype, a tile by ones and a slice of everything vanish."""
    before = """
    graph @t(%x: float32[3,4]) -> (float32[3,4]) {
      %ones = Const() {value = dense<int32[2] [1, 1]>} : int32[2]
      %zeros = Const() {value = dense<int32[2] [0, 0]>} : int32[2]
      %c = Cast(%x) {DstT = "float32", Truncate = false} : float32[3,4]
      %t = Tile(%c, %ones) : float32[3,4]
      %s = StridedSlice(%t, %zeros, %zeros, %ones) {begin_mask = 0, ellipsis_mask = 0, end_mask = 3, new_axis_mask = 0, shrink_axis_mask = 0} : float32[3,4]
      %y = Relu(%s) : float32[3,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[3,4]) -> (float32[3,4]) {
      %y = Relu(%x) : float32[3,4]
      return "y" = %y
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


def test_concat_single_and_unit_split() -> None:
    """A one-input Concat is its input; size-1 pieces concatenated on another axis are a Reshape."""
    before = """
    graph @t(%x: float32[N,3,1]) -> (float32[N,3,1], float32[N,1,3]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %ax2 = Const() {value = dense<int32[] [2]>} : int32[]
      %one = ConcatV2(%x, %ax1) : float32[N,3,1]
      %s, %s:1, %s:2 = Split(%ax1, %x) {num_split = 3} : float32[N,1,1], float32[N,1,1], float32[N,1,1]
      %c = ConcatV2(%s, %s:1, %s:2, %ax2) : float32[N,1,3]
      return "one" = %one, "c" = %c
    }
"""
    expected = """
    graph @t(%x: float32[N,3,1]) -> (float32[N,3,1], float32[N,1,3]) {
      %c/shape = Const() {value = dense<int64[3] [-1, 1, 3]>} : int64[3]  # from c  # rule concat-of-unit-split
      %c = Reshape(%x, %c/shape) : float32[N,1,3]  # rule concat-of-unit-split
      return "one" = %x, "c" = %c
    }
"""
    check("simplify", before, expected)


def test_pack_unpack_squeeze_expand() -> None:
    """Pack(Unpack(x)) and Squeeze(ExpandDims(x)) are x."""
    before = """
    graph @t(%x: float32[N,2,3]) -> (float32[N,2,3], float32[N,2,3], float32[N,2,3]) {
      %u, %u:1 = Unpack(%x) {axis = 1, num = 2} : float32[N,3], float32[N,3]
      %p = Pack(%u, %u:1) {axis = 1} : float32[N,2,3]
      %ax = Const() {value = dense<int32[] [-1]>} : int32[]
      %e = ExpandDims(%x, %ax) : float32[N,2,3,1]
      %q = Squeeze(%e) {squeeze_dims = [3]} : float32[N,2,3]
      %e2 = ExpandDims(%x, %ax) : float32[N,2,3,1]
      %q2 = Squeeze(%e2) {squeeze_dims = [3]} : float32[N,2,3]
      %r = Relu(%q2) : float32[N,2,3]
      return "p" = %p, "q" = %q, "r" = %r
    }
"""
    expected = """
    graph @t(%x: float32[N,2,3]) -> (float32[N,2,3], float32[N,2,3], float32[N,2,3]) {
      %r = Relu(%x) : float32[N,2,3]
      return "p" = %x, "q" = %x, "r" = %r
    }
"""
    check("simplify", before, expected)


def test_squeeze_all_not() -> None:
    """Squeeze of every size-1 axis then ExpandDims changes the shape: nothing fires."""
    before = """
    graph @t(%x: float32[N,1,3]) -> (float32[N,1,3,1]) {
      %ax = Const() {value = dense<int32[] [-1]>} : int32[]
      %s = Squeeze(%x) {squeeze_dims = []} : float32[N,3]
      %e = ExpandDims(%s, %ax) : float32[N,3,1]
      %e2 = ExpandDims(%e, %ax) : float32[N,3,1,1]
      %r = Const() {value = dense<int32[4] [-1, 1, 3, 1]>} : int32[4]
      %y = Reshape(%e2, %r) : float32[N,1,3,1]
      return "y" = %y
    }
"""
    expected = None
    check("simplify", before, expected)


def test_expand_squeeze() -> None:
    """An ExpandDims that restores the axis a Squeeze removed is x."""
    before = """
    graph @t(%x: float32[N,3,1]) -> (float32[N,3,1]) {
      %ax = Const() {value = dense<int32[] [2]>} : int32[]
      %s = Squeeze(%x) {squeeze_dims = [2]} : float32[N,3]
      %e = ExpandDims(%s, %ax) : float32[N,3,1]
      %y = Relu(%e) : float32[N,3,1]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3,1]) -> (float32[N,3,1]) {
      %y = Relu(%x) : float32[N,3,1]
      return "y" = %y
    }
"""
    check("simplify", before, expected)


def test_gate_mix() -> None:
    """DIN's Dice activation: alpha * (1 - p) * x + p * x is x * (alpha + (1 - alpha) * p)."""
    before = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %one = Const() {value = dense<float32[] [1.0]>} : float32[]
      %a = Const() {value = dense<float32[4] [0.25, -0.5, 1.5, 0.0]>} : float32[4]
      %p = Sigmoid(%x) : float32[N,4]
      %s = Sub(%one, %p) : float32[N,4]
      %m = Mul(%a, %s) : float32[N,4]
      %m1 = Mul(%m, %x) : float32[N,4]
      %m2 = Mul(%p, %x) : float32[N,4]
      %y = AddV2(%m1, %m2) : float32[N,4]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Const() {value = dense<float32[4] [0.25, -0.5, 1.5, 0.0]>} : float32[4]
      %p = Sigmoid(%x) : float32[N,4]
      %y/one_minus_alpha = Const() {value = dense<float32[4] [0.75, 1.5, -0.5, 1.0]>} : float32[4]  # from y, m2, m1, m, s  # rule gate-mix
      %y/gate = Mul(%p, %y/one_minus_alpha) : float32[N,4]  # from y, m2, m1, m, s  # rule gate-mix
      %y/mix = AddV2(%y/gate, %a) : float32[N,4]  # from y, m2, m1, m, s  # rule gate-mix
      %y = Mul(%x, %y/mix) : float32[N,4]  # from y, m2, m1, m, s  # rule gate-mix
      return "y" = %y
    }
"""
    check("simplify,prune", before, expected)


def test_concat_of_unpack_pieces() -> None:
    """Pieces of one Unpack stacked back along their axis, in any order and with repeats (FGCNN's
    pairwise products concatenate 4465 such pieces, which took XLA 16 s to compile), are a
    gather of the source."""
    before = """
    graph @t(%x: float32[N,3,1,2]) -> (float32[N,3,2]) {
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %u, %u:1, %u:2 = Unpack(%x) {num = 3, axis = 1} : float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %y = ConcatV2(%u:2, %u, %u:2, %ax) : float32[N,3,2]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%x: float32[N,3,1,2]) -> (float32[N,3,2]) {
      %y/indices = Const() {value = dense<int32[3] [2, 0, 2]>} : int32[3]  # from y  # rule concat-of-unpack-pieces
      %y/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from y  # rule concat-of-unpack-pieces
      %y/gather = GatherV2(%x, %y/indices, %y/axis) {batch_dims = 0} : float32[N,3,1,2]  # from y  # rule concat-of-unpack-pieces
      %y/shape = Const() {value = dense<int64[3] [-1, 3, 2]>} : int64[3]  # from y  # rule concat-of-unpack-pieces
      %y = Reshape(%y/gather, %y/shape) : float32[N,3,2]  # rule concat-of-unpack-pieces
      return "y" = %y
    }
"""
    check("simplify,prune", before, expected)


def test_concat_of_unpack_pieces_along_another_axis_is_kept() -> None:
    """Pieces concatenated along their own feature axis are not a gather: nothing fires."""
    before = """
    graph @t(%x: float32[N,3,1,2]) -> (float32[N,1,4]) {
      %ax = Const() {value = dense<int32[] [2]>} : int32[]
      %u, %u:1, %u:2 = Unpack(%x) {num = 3, axis = 1} : float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %y = ConcatV2(%u:2, %u, %ax) : float32[N,1,4]
      return "y" = %y
    }
"""
    check("simplify", before, None)


def test_concat_of_products_of_split_pieces() -> None:
    """FiBiNET's bilinear layer in miniature: products of one field's projection (split along the
    features) with the fields after it (split along the fields), concatenated along the fields,
    become one product of two concatenations; the projection's pieces, every one in order, are a
    Reshape of it (alone, or as a run inside a longer concatenation)."""
    before = """
    graph @t(%x: float32[N,4,2], %w: float32[N,1,6], %z: float32[N,2,2]) -> (float32[N,3,2], float32[N,5,2]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %ax2 = Const() {value = dense<int32[] [2]>} : int32[]
      %v, %v:1, %v:2, %v:3 = Split(%ax1, %x) {num_split = 4} : float32[N,1,2], float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %p, %p:1, %p:2 = Split(%ax2, %w) {num_split = 3} : float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %m = Mul(%p, %v:1) : float32[N,1,2]
      %m1 = Mul(%p:1, %v:2) : float32[N,1,2]
      %m2 = Mul(%p:2, %v:3) : float32[N,1,2]
      %y = ConcatV2(%m, %m1, %m2, %ax1) : float32[N,3,2]
      %r = ConcatV2(%z, %p, %p:1, %p:2, %ax1) : float32[N,5,2]
      return "y" = %y, "r" = %r
    }
"""
    expected = """
    graph @t(%x: float32[N,4,2], %w: float32[N,1,6], %z: float32[N,2,2]) -> (float32[N,3,2], float32[N,5,2]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %v, %v:1, %v:2, %v:3 = Split(%ax1, %x) {num_split = 4} : float32[N,1,2], float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %y/operand0/shape0 = Const() {value = dense<int64[3] [-1, 3, 2]>} : int64[3]  # from y  # rule concat-of-split-runs
      %y/operand0/run0 = Reshape(%w, %y/operand0/shape0) : float32[N,3,2]  # from y  # rule concat-of-split-runs
      %y/operand1 = ConcatV2(%v:1, %v:2, %v:3, %ax1) : float32[N,3,2]  # from y  # rule concat-of-products
      %y = Mul(%y/operand0/run0, %y/operand1) : float32[N,3,2]  # rule concat-of-products
      %r/shape1 = Const() {value = dense<int64[3] [-1, 3, 2]>} : int64[3]  # from r  # rule concat-of-split-runs
      %r/run1 = Reshape(%w, %r/shape1) : float32[N,3,2]  # from r  # rule concat-of-split-runs
      %r = ConcatV2(%z, %r/run1, %ax1) : float32[N,5,2]  # rule concat-of-split-runs
      return "y" = %y, "r" = %r
    }
"""
    check("simplify,prune", before, expected)


def test_concat_of_products_that_broadcast_or_pieces_that_reorder_is_kept() -> None:
    """A product that broadcasts an operand, and pieces of size 2 along the concatenation axis
    (their concatenation interleaves the source's elements), stay as they are."""
    before = """
    graph @t(%x: float32[N,2,4], %b: float32[N,1,1]) -> (float32[N,2,2], float32[N,4,2]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %ax2 = Const() {value = dense<int32[] [2]>} : int32[]
      %p, %p:1 = Split(%ax2, %x) {num_split = 2} : float32[N,2,2], float32[N,2,2]
      %s, %s:1 = Split(%ax1, %x) {num_split = 2} : float32[N,1,4], float32[N,1,4]
      %q, %q:1 = Split(%ax2, %s) {num_split = 2} : float32[N,1,2], float32[N,1,2]
      %m = Mul(%q, %b) : float32[N,1,2]
      %m1 = Mul(%q:1, %b) : float32[N,1,2]
      %y = ConcatV2(%m, %m1, %ax1) : float32[N,2,2]
      %r = ConcatV2(%p, %p:1, %ax1) : float32[N,4,2]
      return "y" = %y, "r" = %r
    }
"""
    check("simplify", before, None)


def test_concat_of_split_pieces() -> None:
    """Eight or more pieces of one Split, in any order and with repeats, concatenated along the
    axis they were split from, are a gather of the source; fewer, or mixed with other operands,
    stay a concatenation."""
    before = """
    graph @t(%x: float32[N,4,2], %z: float32[N,2,2]) -> (float32[N,8,2], float32[N,10,2], float32[N,3,2]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %v, %v:1, %v:2, %v:3 = Split(%ax1, %x) {num_split = 4} : float32[N,1,2], float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %g = ConcatV2(%v:1, %v:2, %v:3, %v:2, %v:3, %v:3, %v, %v, %ax1) : float32[N,8,2]
      %y = ConcatV2(%v:1, %v:2, %v:3, %v:2, %v:3, %v:3, %v, %v, %z, %ax1) : float32[N,10,2]
      %f = ConcatV2(%v:3, %v:2, %v, %ax1) : float32[N,3,2]
      return "g" = %g, "y" = %y, "f" = %f
    }
"""
    expected = """
    graph @t(%x: float32[N,4,2], %z: float32[N,2,2]) -> (float32[N,8,2], float32[N,10,2], float32[N,3,2]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %v, %v:1, %v:2, %v:3 = Split(%ax1, %x) {num_split = 4} : float32[N,1,2], float32[N,1,2], float32[N,1,2], float32[N,1,2]
      %g/indices = Const() {value = dense<int32[8] [1, 2, 3, 2, 3, 3, 0, 0]>} : int32[8]  # from g  # rule concat-of-split-pieces
      %g/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from g  # rule concat-of-split-pieces
      %g = GatherV2(%x, %g/indices, %g/axis) {batch_dims = 0} : float32[N,8,2]  # rule concat-of-split-pieces
      %y = ConcatV2(%v:1, %v:2, %v:3, %v:2, %v:3, %v:3, %v, %v, %z, %ax1) : float32[N,10,2]
      %f = ConcatV2(%v:3, %v:2, %v, %ax1) : float32[N,3,2]
      return "g" = %g, "y" = %y, "f" = %f
    }
"""
    check("simplify", before, expected)


def test_concat_of_field_projections() -> None:
    """FiBiNET's bilinear projections in miniature: eight fields of one tensor, each projected by
    its own matrix (widths 2 and 1 alternating), reshaped and concatenated, are one batched product
    over the fields with the matrices zero-padded to one width, then a gather of the real columns."""
    before = """
    graph @t(%e: float32[N,9,1]) -> (float32[N,12,1]) {
      %ax1 = Const() {value = dense<int32[] [1]>} : int32[]
      %f, %f:1, %f:2, %f:3, %f:4, %f:5, %f:6, %f:7, %f:8 = Split(%ax1, %e) {num_split = 9} : float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1], float32[N,1,1]
      %s2 = Const() {value = dense<int32[3] [-1, 2, 1]>} : int32[3]
      %w0 = Const() {value = dense<float32[1x2] [-0.25, 0.375]>} : float32[1,2]
      %d0 = FusedDense(%f, %w0) {activation = ""} : float32[N,1,2]
      %r0 = Reshape(%d0, %s2) : float32[N,2,1]
      %w1 = Const() {value = dense<float32[1x1] [-0.5]>} : float32[1,1]
      %d1 = FusedDense(%f:1, %w1) {activation = ""} : float32[N,1,1]
      %w2 = Const() {value = dense<float32[1x2] [-0.75, 0.875]>} : float32[1,2]
      %d2 = FusedDense(%f:2, %w2) {activation = ""} : float32[N,1,2]
      %r2 = Reshape(%d2, %s2) : float32[N,2,1]
      %w3 = Const() {value = dense<float32[1x1] [-1.]>} : float32[1,1]
      %d3 = FusedDense(%f:3, %w3) {activation = ""} : float32[N,1,1]
      %w4 = Const() {value = dense<float32[1x2] [-1.25, 1.375]>} : float32[1,2]
      %d4 = FusedDense(%f:4, %w4) {activation = ""} : float32[N,1,2]
      %r4 = Reshape(%d4, %s2) : float32[N,2,1]
      %w5 = Const() {value = dense<float32[1x1] [-1.5]>} : float32[1,1]
      %d5 = FusedDense(%f:5, %w5) {activation = ""} : float32[N,1,1]
      %w6 = Const() {value = dense<float32[1x2] [-1.75, 1.875]>} : float32[1,2]
      %d6 = FusedDense(%f:6, %w6) {activation = ""} : float32[N,1,2]
      %r6 = Reshape(%d6, %s2) : float32[N,2,1]
      %w7 = Const() {value = dense<float32[1x1] [-2.]>} : float32[1,1]
      %d7 = FusedDense(%f:7, %w7) {activation = ""} : float32[N,1,1]
      %y = ConcatV2(%r0, %d1, %r2, %d3, %r4, %d5, %r6, %d7, %ax1) : float32[N,12,1]
      return "y" = %y
    }
"""
    expected = """
    graph @t(%e: float32[N,9,1]) -> (float32[N,12,1]) {
      %y/perm = Const() {value = dense<int32[3] [1, 0, 2]>} : int32[3]  # from y  # rule concat-of-field-projections
      %y/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from y  # rule concat-of-field-projections
      %y/fields = Const() {value = dense<int32[8] [0, 1, 2, 3, 4, 5, 6, 7]>} : int32[8]  # from y  # rule concat-of-field-projections
      %y/gather = GatherV2(%e, %y/fields, %y/axis) {batch_dims = 0} : float32[N,8,1]  # from y  # rule concat-of-field-projections
      %y/by_field = Transpose(%y/gather, %y/perm) : float32[8,N,1]  # from y  # rule concat-of-field-projections
      %y/weights = Const() {value = dense<float32[8x1x2] [-0.25, 0.375, -0.5, 0.0, -0.75, 0.875, -1.0, 0.0, -1.25, 1.375, -1.5, 0.0, -1.75, 1.875, -2.0, 0.0]>} : float32[8,1,2]  # from y  # rule concat-of-field-projections
      %y/project = BatchMatMulV2(%y/by_field, %y/weights) {adj_x = false, adj_y = false} : float32[8,N,2]  # from y  # rule concat-of-field-projections
      %y/by_row = Transpose(%y/project, %y/perm) : float32[N,8,2]  # from y  # rule concat-of-field-projections
      %y/shape = Const() {value = dense<int64[3] [-1, 16, 1]>} : int64[3]  # from y  # rule concat-of-field-projections
      %y/pieces = Reshape(%y/by_row, %y/shape) : float32[N,16,1]  # from y  # rule concat-of-field-projections
      %y/keep = Const() {value = dense<int32[12] [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14]>} : int32[12]  # from y  # rule concat-of-field-projections
      %y = GatherV2(%y/pieces, %y/keep, %y/axis) {batch_dims = 0} : float32[N,12,1]  # rule concat-of-field-projections
      return "y" = %y
    }
"""
    check("simplify,prune", before, expected)
