"""Group fusion passes: tables, parallel gathers, horizontal, elementwise.

Each test: Before IR, the pipeline, Expected IR (None: the pass must not fire); the two graphs also
compute the same outputs on random inputs (reference interpreter), out-of-range ids included.
"""

from __future__ import annotations

from tests.passes._util import check


def test_tables() -> None:
    """Two lookups into tables of width 2 -> one gather over the stacked table, ids shifted and range-checked."""
    before = """
    graph @t(%a: int32[N,1], %b: int32[N,2]) -> (float32[N,1,2], float32[N,2,2]) {
      %ta = Const() {value = dense<float32[3x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]>} : float32[3,2]
      %tb = Const() {value = dense<float32[4x2] [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]>} : float32[4,2]
      %zero = Const() {value = dense<int32[] [0]>} : int32[]
      %ga = GatherV2(%ta, %a, %zero) {batch_dims = 0} : float32[N,1,2]
      %gb = GatherV2(%tb, %b, %zero) {batch_dims = 0} : float32[N,2,2]
      return "ea" = %ga, "eb" = %gb
    }
"""
    expected = """
    graph @t(%a: int32[N,1], %b: int32[N,2]) -> (float32[N,1,2], float32[N,2,2]) {
      %fused_tables/ga/table = Const() {value = dense<float32[7x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]>} : float32[7,2]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/ids_axis = Const() {value = dense<int32[] [1]>} : int32[]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/ids = ConcatV2(%a, %b, %fused_tables/ga/ids_axis) : int32[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/zero = Const() {value = dense<int32[3] [0, 0, 0]>} : int32[3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/ge = GreaterEqual(%fused_tables/ga/ids, %fused_tables/ga/zero) : bool[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/rows = Const() {value = dense<int32[3] [3, 4, 4]>} : int32[3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/lt = Less(%fused_tables/ga/ids, %fused_tables/ga/rows) : bool[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/in_range = LogicalAnd(%fused_tables/ga/ge, %fused_tables/ga/lt) : bool[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/offsets = Const() {value = dense<int32[3] [0, 3, 3]>} : int32[3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/shifted = AddV2(%fused_tables/ga/ids, %fused_tables/ga/offsets) : int32[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/oob = Const() {value = dense<int32[] [-1]>} : int32[]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/safe_ids = SelectV2(%fused_tables/ga/in_range, %fused_tables/ga/shifted, %fused_tables/ga/oob) : int32[N,3]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/gather_axis = Const() {value = dense<int32[] [0]>} : int32[]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga = GatherV2(%fused_tables/ga/table, %fused_tables/ga/safe_ids, %fused_tables/ga/gather_axis) {batch_dims = 0} : float32[N,3,2]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/split/sizes = Const() {value = dense<int64[2] [1, 2]>} : int64[2]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/split/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from ga, gb  # rule fuse-tables
      %fused_tables/ga/split, %fused_tables/ga/split:1 = SplitV(%fused_tables/ga, %fused_tables/ga/split/sizes, %fused_tables/ga/split/axis) {num_split = 2} : float32[N,1,2], float32[N,2,2]  # from ga, gb  # rule fuse-tables
      return "ea" = %fused_tables/ga/split, "eb" = %fused_tables/ga/split:1
    }
"""
    check("fuse-tables", before, expected)


def test_gathers() -> None:
    """Two tables read with the same ids -> one gather of the side-by-side table."""
    before = """
    graph @t(%a: int32[N,1]) -> (float32[N,1,2], float32[N,1,1]) {
      %ta = Const() {value = dense<float32[3x2] [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]>} : float32[3,2]
      %tb = Const() {value = dense<float32[3x1] [10.0, 11.0, 12.0]>} : float32[3,1]
      %zero = Const() {value = dense<int32[] [0]>} : int32[]
      %ga = GatherV2(%ta, %a, %zero) {batch_dims = 0} : float32[N,1,2]
      %gb = GatherV2(%tb, %a, %zero) {batch_dims = 0} : float32[N,1,1]
      return "ea" = %ga, "eb" = %gb
    }
"""
    expected = """
    graph @t(%a: int32[N,1]) -> (float32[N,1,2], float32[N,1,1]) {
      %zero = Const() {value = dense<int32[] [0]>} : int32[]
      %ga/wide_table = Const() {value = dense<float32[3x3] [0.0, 1.0, 10.0, 2.0, 3.0, 11.0, 4.0, 5.0, 12.0]>} : float32[3,3]  # from ga, gb  # rule fuse-gathers
      %ga/wide = GatherV2(%ga/wide_table, %a, %zero) {batch_dims = 0} : float32[N,1,3]  # from ga, gb  # rule fuse-gathers
      %ga/wide_split/sizes = Const() {value = dense<int64[2] [2, 1]>} : int64[2]  # from ga, gb  # rule fuse-gathers
      %ga/wide_split/axis = Const() {value = dense<int32[] [2]>} : int32[]  # from ga, gb  # rule fuse-gathers
      %ga/wide_split, %ga/wide_split:1 = SplitV(%ga/wide, %ga/wide_split/sizes, %ga/wide_split/axis) {num_split = 2} : float32[N,1,2], float32[N,1,1]  # from ga, gb  # rule fuse-gathers
      return "ea" = %ga/wide_split, "eb" = %ga/wide_split:1
    }
"""
    check("fuse-gathers", before, expected)


def test_horizontal() -> None:
    """Two MatMuls of one input -> one wider MatMul and a split."""
    before = """
    graph @t(%x: float32[N,2]) -> (float32[N,2], float32[N,1]) {
      %w1 = Const() {value = dense<float32[2x2] [1.0, 2.0, 3.0, 4.0]>} : float32[2,2]
      %w2 = Const() {value = dense<float32[2x1] [5.0, 6.0]>} : float32[2,1]
      %a = MatMul(%x, %w1) {transpose_a = false, transpose_b = false} : float32[N,2]
      %b = MatMul(%x, %w2) {transpose_a = false, transpose_b = false} : float32[N,1]
      return "a" = %a, "b" = %b
    }
"""
    expected = """
    graph @t(%x: float32[N,2]) -> (float32[N,2], float32[N,1]) {
      %a/wide_weights = Const() {value = dense<float32[2x3] [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]>} : float32[2,3]  # from a, b  # rule fuse-horizontal
      %a/wide = MatMul(%x, %a/wide_weights) {transpose_a = false, transpose_b = false} : float32[N,3]  # from a, b  # rule fuse-horizontal
      %a/wide_split/sizes = Const() {value = dense<int64[2] [2, 1]>} : int64[2]  # from a, b  # rule fuse-horizontal
      %a/wide_split/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from a, b  # rule fuse-horizontal
      %a/wide_split, %a/wide_split:1 = SplitV(%a/wide, %a/wide_split/sizes, %a/wide_split/axis) {num_split = 2} : float32[N,2], float32[N,1]  # from a, b  # rule fuse-horizontal
      return "a" = %a/wide_split, "b" = %a/wide_split:1
    }
"""
    check("fuse-horizontal", before, expected)


def test_horizontal_dense_einsum() -> None:
    """Sibling FusedDense (same activation) and Einsum projections -> one each."""
    before = """
    graph @t(%x: float32[N,2]) -> (float32[N,2], float32[N,1], float32[N,2,2], float32[N,1,2]) {
      %w1 = Const() {value = dense<float32[2x2] [1.0, 2.0, 3.0, 4.0]>} : float32[2,2]
      %w2 = Const() {value = dense<float32[2x1] [5.0, 6.0]>} : float32[2,1]
      %b1 = Const() {value = dense<float32[2] [0.5, -0.5]>} : float32[2]
      %b2 = Const() {value = dense<float32[1] [0.25]>} : float32[1]
      %a = FusedDense(%x, %w1, %b1) {activation = "Relu"} : float32[N,2]
      %b = FusedDense(%x, %w2, %b2) {activation = "Relu"} : float32[N,1]
      %e1 = Const() {value = dense<float32[2x2x2] [1.0, 0.0, 0.0, 1.0, 0.5, 0.5, -1.0, 2.0]>} : float32[2,2,2]
      %e2 = Const() {value = dense<float32[2x1x2] [1.0, -1.0, 2.0, 0.5]>} : float32[2,1,2]
      %q = Einsum(%x, %e1) {equation = "ac,cde->ade"} : float32[N,2,2]
      %k = Einsum(%x, %e2) {equation = "ac,cde->ade"} : float32[N,1,2]
      return "a" = %a, "b" = %b, "q" = %q, "k" = %k
    }
"""
    expected = """
    graph @t(%x: float32[N,2]) -> (float32[N,2], float32[N,1], float32[N,2,2], float32[N,1,2]) {
      %a/wide_weights = Const() {value = dense<float32[2x3] [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]>} : float32[2,3]  # from a, b  # rule fuse-horizontal
      %a/wide_bias = Const() {value = dense<float32[3] [0.5, -0.5, 0.25]>} : float32[3]  # from a, b  # rule fuse-horizontal
      %a/wide = FusedDense(%x, %a/wide_weights, %a/wide_bias) {activation = "Relu"} : float32[N,3]  # from a, b  # rule fuse-horizontal
      %a/wide_split/sizes = Const() {value = dense<int64[2] [2, 1]>} : int64[2]  # from a, b  # rule fuse-horizontal
      %a/wide_split/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from a, b  # rule fuse-horizontal
      %a/wide_split, %a/wide_split:1 = SplitV(%a/wide, %a/wide_split/sizes, %a/wide_split/axis) {num_split = 2} : float32[N,2], float32[N,1]  # from a, b  # rule fuse-horizontal
      %q/wide_weights = Const() {value = dense<float32[2x3x2] [1.0, 0.0, 0.0, 1.0, 1.0, -1.0, 0.5, 0.5, -1.0, 2.0, 2.0, 0.5]>} : float32[2,3,2]  # from q, k  # rule fuse-horizontal
      %q/wide = Einsum(%x, %q/wide_weights) {equation = "ac,cde->ade"} : float32[N,3,2]  # from q, k  # rule fuse-horizontal
      %q/wide_split/sizes = Const() {value = dense<int64[2] [2, 1]>} : int64[2]  # from q, k  # rule fuse-horizontal
      %q/wide_split/axis = Const() {value = dense<int32[] [1]>} : int32[]  # from q, k  # rule fuse-horizontal
      %q/wide_split, %q/wide_split:1 = SplitV(%q/wide, %q/wide_split/sizes, %q/wide_split/axis) {num_split = 2} : float32[N,2,2], float32[N,1,2]  # from q, k  # rule fuse-horizontal
      return "a" = %a/wide_split, "b" = %a/wide_split:1, "q" = %q/wide_split, "k" = %q/wide_split:1
    }
"""
    check("fuse-horizontal", before, expected)


def test_horizontal_activation_differs_not() -> None:
    """Siblings with different activations stay apart."""
    before = """
    graph @t(%x: float32[N,2]) -> (float32[N,2], float32[N,1]) {
      %w1 = Const() {value = dense<float32[2x2] [1.0, 2.0, 3.0, 4.0]>} : float32[2,2]
      %w2 = Const() {value = dense<float32[2x1] [5.0, 6.0]>} : float32[2,1]
      %a = FusedDense(%x, %w1) {activation = "Relu"} : float32[N,2]
      %b = FusedDense(%x, %w2) {activation = "Tanh"} : float32[N,1]
      return "a" = %a, "b" = %b
    }
"""
    expected = None
    check("fuse-horizontal", before, expected)


def test_elementwise() -> None:
    """Mul -> Relu -> Add with single readers -> one FusedElementwise."""
    before = """
    graph @t(%x: float32[N,4], %y: float32[N,4]) -> (float32[N,4]) {
      %a = Mul(%x, %y) : float32[N,4]
      %b = Relu(%a) : float32[N,4]
      %c = AddV2(%b, %x) : float32[N,4]
      return "c" = %c
    }
"""
    expected = r"""
    graph @t(%x: float32[N,4], %y: float32[N,4]) -> (float32[N,4]) {
      %c/fused = FusedElementwise(%x, %y) {body = "[[\"Mul\",[0,1],{}],[\"Relu\",[2],{}],[\"AddV2\",[3,0],{}]]"} : float32[N,4]  # from a, b, c  # rule fuse-elementwise
      return "c" = %c/fused
    }
"""
    check("fuse-elementwise", before, expected)


def test_elementwise_shared_not() -> None:
    """An intermediate read twice is not fused into either reader."""
    before = """
    graph @t(%x: float32[N,4], %y: float32[N,4]) -> (float32[N,4], float32[N,4]) {
      %a = Mul(%x, %y) : float32[N,4]
      %b = Relu(%a) : float32[N,4]
      %c = Neg(%a) : float32[N,4]
      return "b" = %b, "c" = %c
    }
"""
    expected = None
    check("fuse-elementwise", before, expected)
