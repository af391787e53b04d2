"""Op conformance against TensorFlow's own kernels, and Fourier's coverage of TensorFlow's op list.

A `Case` is a one-op TensorFlow graph (data fed through Placeholders, shape-like operands as
constants); `check` runs it in TensorFlow, imports its GraphDef, and asserts that Fourier's numpy
reference and its JAX lowering both give TensorFlow's answer: the same dtype and shape (the
inferred type included), integers and bools exactly, floats within the case's tolerance (by
default `DEFAULT_TOL` for the output's dtype). The tables live in tests/test_conformance.py and
tests/test_ops_longtail.py.

``python -m fourier.testing.conformance --coverage [--markdown | --write docs/ops.md]`` classifies
every op TensorFlow registers: supported by Fourier (a registry entry, or handled by the importer),
left out by category with the reason, or an inference op Fourier does not support yet (listed by
name); ``--write`` replaces the section docs/ops.md ends with.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fourier.ops.doc import COVERAGE_HEADING
from fourier.ops.registry import OpDef

__all__ = [
    "DEFAULT_TOL",
    "EXEMPT",
    "IMPORTER_OPS",
    "LEFT_OUT",
    "COMMAND",
    "Case",
    "Coverage",
    "case_id",
    "check",
    "classify",
    "coverage",
    "exemption",
    "markdown",
    "run_tf",
    "write_section",
    "tf_op_names",
]

# Floats per dtype: float32 to rtol 1e-5 / atol 1e-6; float16 to about one unit in the last place
# (2^-10 ~ 9.8e-4: TensorFlow computes half ops in float and rounds, numpy and XLA may round at
# another step); float64 to 1e-9 (the transcendental functions differ in the last bits between
# Eigen, numpy and XLA).
DEFAULT_TOL: dict[str, dict[str, float]] = {
    "float16": {"rtol": 2e-3, "atol": 1e-3},
    "bfloat16": {"rtol": 1e-2, "atol": 1e-2},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
    "float64": {"rtol": 1e-9, "atol": 1e-12},
}


@dataclass
class Case:
    """One TensorFlow graph of the op under test: ``build`` takes the feeds' placeholders (by name)
    and returns the output tensor(s); ``tol`` overrides `DEFAULT_TOL` for float outputs."""

    op: str
    build: Callable[..., Any]
    feeds: dict[str, np.ndarray]
    id: str = ""
    tol: dict[str, float] | None = None
    rename: dict[str, str] = field(default_factory=dict)  # GraphDef node ops renamed before the run


def case_id(case: Case) -> str:
    """The pytest id of a case: ``Op-id``."""
    return f"{case.op}-{case.id}" if case.id else case.op


def run_tf(case: Case) -> tuple[Any, list[np.ndarray], list[str]]:
    """Build the case's graph, run it in TensorFlow: (GraphDef, outputs, output node names)."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        phs = {
            k: tf.compat.v1.placeholder(tf.as_dtype(v.dtype), v.shape, name=k) for k, v in case.feeds.items()
        }
        out = case.build(**phs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        names = [tf.identity(o, name=f"out{i}").name.split(":")[0] for i, o in enumerate(outs)]
    graph_def = g.as_graph_def()
    if case.rename:  # e.g. StatelessWhile -> While: the same kernel contract, another op name
        for node in graph_def.node:
            node.op = case.rename.get(node.op, node.op)
        g = tf.Graph()
        with g.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as sess:
        feeds = {g.get_tensor_by_name(f"{k}:0"): v for k, v in case.feeds.items()}
        want = sess.run([f"{n}:0" for n in names], feeds)
    return graph_def, want, names


def check(case: Case) -> None:
    """Assert that Fourier's reference and JAX lowering of the case both give TensorFlow's answer."""
    import jax

    from fourier.backends.jax_lowering import lower_graph
    from fourier.importer.graphdef import import_graphdef
    from fourier.interpreter import run_reference

    graph_def, want, names = run_tf(case)
    graph = import_graphdef(graph_def, "<case>", names)
    ref = run_reference(graph, case.feeds)
    lowered = lower_graph(graph, param_min_bytes=1 << 40)
    with jax.enable_x64(True):
        low = jax.jit(lowered.fn)([], [case.feeds[n] for n in lowered.input_names])
    assert len(graph.outputs) == len(want)
    for (name, value), w, lo in zip(graph.outputs, want, low):
        w = np.asarray(w)
        for label, got in (("reference", np.asarray(ref[name])), ("lowering", np.asarray(lo))):
            assert got.dtype == w.dtype and got.dtype.name == value.type.dtype, (label, got.dtype, w.dtype)
            assert got.shape == w.shape and value.type.shape == w.shape, (
                label,
                got.shape,
                w.shape,
                value.type,
            )
            if np.issubdtype(w.dtype, np.floating) or w.dtype.name == "bfloat16":
                tol = case.tol or DEFAULT_TOL[w.dtype.name]
                np.testing.assert_allclose(
                    got.astype(np.float64),
                    w.astype(np.float64),
                    rtol=tol["rtol"],
                    atol=tol["atol"],
                    err_msg=f"{label} {name}",
                )
            else:
                np.testing.assert_array_equal(got, w, err_msg=f"{label} {name}")


# -- coverage against TensorFlow's op list ------------------------------------------------------

# Registered ops with no case in the conformance suite, and why (`exemption`).
EXEMPT: dict[str, str] = {
    "fused": "Fourier's own ops (the fused family), made only by passes: TensorFlow has no kernel to "
    "compare with (each fusion is checked graph-before against graph-after in tests/passes)",
    "host": "ops with the host trait run on the host executor (fourier.host) and their lowering "
    "refuses them: compared with TensorFlow in tests/test_host.py (string hashes, AsString, tables), "
    "tests/test_feature_columns.py (the sparse family: Where, Unique, SparseSegment*, ...) and "
    "tests/test_host_ops_nms.py (NonMaxSuppressionV3/V4/V5)",
}


def exemption(op: OpDef) -> str | None:
    """Why a registered op has no conformance case (a key of `EXEMPT`), or None if it must have one."""
    if op.family == "fused":
        return "fused"
    if "host" in op.traits:
        return "host"
    return None


# TensorFlow ops Fourier accepts without a registry entry of the same name: the importer drops,
# forwards, inlines or rebuilds them.
IMPORTER_OPS: dict[str, str] = {
    "NoOp": "dropped (control edges only)",
    "PlaceholderWithDefault": "an input (forwarded to its default when not fed)",
    "PartitionedCall": "inlined from the function library",
    "StatefulPartitionedCall": "inlined from the function library",
    **{
        op: "v1 loop/conditional frame: rebuilt as While/If"
        for op in ("Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond")
    },
    **{
        f"Ref{op}": "v1 loop/conditional frame: rebuilt as While/If"
        for op in ("Enter", "Exit", "Merge", "Switch", "NextIteration")
    },
    "HashTable": "a v1 table: extracted for the host part (fourier.host)",
    "LookupTableImportV2": "a table initializer with constant contents: recovered for the host part",
    "InitializeTableV2": "a table initializer with constant contents: recovered for the host part",
}

# Categories of TensorFlow ops that an inference graph does not need (or that Fourier cannot run
# on a device), first match wins. Each is (category, reason, predicate on the op name).
_Pred = Callable[[str], bool]


def _rx(pattern: str) -> _Pred:
    return lambda name: re.search(pattern, name) is not None


def _names(*names: str) -> _Pred:
    s = set(names)
    return lambda name: name in s


_SPARSE = _rx(
    r"^Sparse|^AddSparse|^AddManySparse|^TakeManySparse|^RaggedTensorToSparse|CSRSparseMatrix|"
    r"^DenseCountSparseOutput$|^DenseToSparseSetOperation$|^DenseToDenseSetOperation$|^SetSize$|"
    r"^EditDistance$"
)

LEFT_OUT: list[tuple[str, str, _Pred]] = [
    (
        "training and gradients",
        "only a training step runs them: gradients, backprop kernels, training-mode helpers",
        _rx(
            r"Grad|Backprop|^Apply|^ResourceApply|^BoostedTrees|Accumulator|^Sdca|^L2Loss$|^CTCLoss|"
            r"^KmeansPlusPlusInitialization$|^NearestNeighbors$|^SparseApply|^ResourceSparseApply|"
            r"SoftmaxCrossEntropyWithLogits|^ApplyAdam|^Batch(Norm|NormWith)Global|"
            r"^FusedBatchNormEx$|^ComputeAccidentalHits|^GenerateVocabRemapping|^LoadAndRemapMatrix"
        ),
    ),
    (
        "variables and resources",
        "state: frozen graphs hold constants (variables are folded by convert_variables_to_constants)",
        _rx(
            r"Variable|^VarHandleOp|^VarIsInitialized|^ReadVariable|^AssignVariable|^Assign(Add|Sub)?$|"
            r"^Assign(Add|Sub)VariableOp|^ResourceGather|^ResourceScatter|^Scatter(Add|Sub|Mul|Div|Min|Max|"
            r"Update|Nd|NdAdd|NdSub|NdUpdate|NdMax|NdMin)$|^ResourceStrided|^DestroyResource|^Resource|"
            r"^_?VarHandle|^IsVariableInitialized|^DestroyTemporaryVariable|^TemporaryVariable|"
            r"^CountUpTo|^Mutex|^ConsumeMutexLock|^Stack(V2|PushV2|PopV2|CloseV2|Push|Pop|Close)?$|"
            r"^Barrier|^GetSessionHandle|^GetSessionTensor|^DeleteSessionTensor|"
            r"^KernelLabel|^MutableHashTable|^MutableDenseHashTable|"
            r"^Anonymous(Mutable)?(Dense)?HashTable|^LookupTable(Insert|Remove|Export|Size|Import)|"
            r"^InitializeTable|^HashTable$|^TensorMap|^EmptyTensorMap|^Ref(Identity|Select)$|"
            r"^StridedSliceAssign$|^DeepCopy$"
        ),
    ),
    (
        "input, output and files",
        "reading and writing files, checkpoints, records and images is the caller's side of serving",
        _rx(
            r"^Read|^Write|Reader|^Save|^DistributedSave|^ImportEvent|^DecodeJxl|^DecodeWebP|^Restore|^MergeV2Checkpoints|^ShardedFilename|^ShardedFilespec|"
            r"^MatchingFiles|^Decode(Jpeg|Png|Gif|Bmp|Image|AndCropJpeg|Wav|Raw|CSV|Compressed|JSONExample|"
            r"ProtoV2|PaddedRaw|Base64)|^Encode(Jpeg|Png|Wav|Base64|Proto)|^ExtractJpegShape|^ParseExample|"
            r"^ParseSequenceExample|^ParseSingle|^ParseTensor|^SerializeTensor|^SerializeSparse|"
            r"^SerializeManySparse|^DeserializeSparse|^DeserializeManySparse|^SerializeIterator|"
            r"^DeserializeIterator|^DecodeProto|^Print|^Assert$|^AudioSpectrogram|^Mfcc|"
            r"^ImmutableConst|^LoadTPU|^Dump|^RecordInput|^IsBoostedTrees|^EncodeProto|^FileSystem"
        ),
    ),
    (
        "queues, datasets and iterators",
        "input pipelines (tf.data, queues) run before the model, not inside a served graph",
        _rx(
            r"Queue|Dataset|Iterator|^Optional|^Prefetch|^ModelDataset|^MapDefun|^StagingArea|^Stage|"
            r"^Unstage|^MapStage|^MapUnstage|^MapPeek|^MapSize|^MapIncompleteSize|^MapClear|^OrderedMap|"
            r"^Peek$|^ExperimentalDataset|^Anonymous(Memory|Random|Seed|Multi)|^DeleteMemoryCache|"
            r"^DeleteRandomSeedGenerator|^DeleteSeedGenerator|^DeleteMultiDeviceIterator|^DummyMemoryCache|"
            r"^DummySeedGenerator|^FinalizeDataset|^DataServiceDataset|^RegisterDataset|^Snapshot(Dataset|"
            r"Chunk|Nested)|^SaveDataset|^LoadDataset|^GetOptions|^CompressElement|^UncompressElement|"
            r"^DatasetToGraph|^RebatchDataset|^ThreadPoolHandle|^WindowOp|^DummyIterationCounter|"
            r"^GetElementAtIndex|^Experimental(StatsAggregator|ThreadPool)Handle"
        ),
    ),
    (
        "deprecated op versions",
        "TensorFlow marks them deprecated (OpDef.deprecation): it refuses them in graphs it writes now",
        lambda name: _deprecated(name),
    ),
    (
        "in-graph batching",
        "TensorFlow Serving's request batching inside the graph: Fourier batches requests itself "
        "(fourier.batcher) and pads them to its buckets",
        _rx(r"^Batch$|^BatchFunction$|^Unbatch$|^UnbatchGrad$"),
    ),
    (
        "Python callbacks",
        "run Python code in the TensorFlow process: a frozen graph holding them cannot be served "
        "without that Python",
        _names("PyFunc", "PyFuncStateless", "EagerPyFunc"),
    ),
    (
        "summaries and debugging",
        "summaries, checks and debug probes have no output a served graph needs",
        _rx(
            r"Summary|^Debug|^CheckNumerics|^Copy(Host)?$|^Timestamp|^HistogramFixedWidth|"
            r"^StatsAggregator|^DrawBoundingBoxes|^Assert|^Fake(Param|Queue)$|^Abort$|^ControlTrigger|"
            r"^DevicePlacementOp|^DeviceIndex|^GuaranteeConst|^Ref(Next|Exit|Enter)|^TensorSummary|"
            r"^CheckPinned|^SyncDevice|^ScopedAllocator|^Empty$|^InplaceUpdate|^InplaceAdd|^InplaceSub|"
            r"^DebugIdentity|^XlaLaunch|^XlaClusterOutput|^XlaCompile|^XlaRun|^_Xla"
        ),
    ),
    (
        "distributed, collective, TPU and XLA",
        "device placement, cross-device communication and compiler-internal ops; Fourier compiles "
        "one graph for one device",
        _rx(
            r"Collective|^NcclAll|^Nccl|TPU|^Xla|^Send|^Recv|^_Send|^_Recv|^HostSend|^HostRecv|"
            r"^Rpc|^TryRpc|^AllToAll|^CrossReplica|^InfeedEnqueue|^OutfeedEnqueue|^Infeed|^Outfeed|"
            r"^Configure|^Shutdown|^ConnectTPU|^EnqueueTPU|^RecvTPU|^SendTPU|^DTensor|^CopyToMesh|"
            r"^Relayout|^KMC|^GlobalIterId|^ShuffleDataset|^Embedding(Activations|Gradient)|"
            r"^EmbeddingEnqueue|^Xla|^StoreMinibatch|^GetMinibatch|^ConvertToCooTensor|"
            r"^ConvertToListOfSparseCoreCooTensors|^ConvertToSparseCoreCsrWrappedCooTensor|"
            r"^GetStatsFromListOfSparseCoreCooTensors|^SortListOfSparseCoreCooTensors|"
            r"^DynamicEnqueueTPU|^IsTPU|^WorkerHeartbeat|^ReadVariableXla|^Tpu|^GetTpu|^SparseCore|"
            r"^FinalizeTPU|^DisableCopyOnRead|^Prelinearize|^CompositeTensorVariant|^ComputeDedupData|^ComputeBatchSize|"
            r"^GlobalShuffle|^IteratorGetModelProto"
        ),
    ),
    (
        "strings and text",
        "string processing runs on the host (fourier.host serves the hash, AsString and table ops "
        "feature columns use; the rest are not inference kernels of a numeric model)",
        _rx(
            r"^String|^Substr|^Fingerprint$|^Regex|^Unicode|^AsString$|^ReduceJoin|^EncodeBase64|^DecodeBase64|"
            r"^StaticRegex|^UnsortedSegmentJoin|^StringNGrams|^Tokenize|^WordPiece|^StringLower|"
            r"^StringUpper|^StringStrip|^StringLength|^StringSplit|^StringFormat|^StringJoin|"
            r"^StringToNumber|^Sentencepiece|^CaseFold|^NormalizeUTF8|^Skipgram|^LoadAndRemap|"
            r"^Ngrams"
        ),
    ),
    (
        "sparse tensors",
        "SparseTensor kernels (indices, values, dense_shape) other than the ones feature columns "
        "use, which the host runs (the sparse family, supported above)",
        _SPARSE,
    ),
    (
        "ragged tensors",
        "RaggedTensor kernels (row splits): preprocessing of variable-length input, before the model",
        _rx(r"^Ragged"),
    ),
    (
        "random numbers",
        "sampling beyond the Philox uniform/normal/integer ops Fourier supports (the random family: "
        "stateless bit-exact, stateful keyed by their seeds): multinomials (TensorFlow's CPU kernel "
        "gives a row other values when its thread pool splits the batch otherwise), gammas, "
        "Poisson, candidate samplers, shuffles and generators with resource state",
        _rx(
            r"Random|^Multinomial|^Stateful(Standard|Truncated|Uniform)|^SobolSample$|^StatelessMultinomial|^RngSkip|^RngReadAndSkip|^Stateless(?!Case$|If$|While$)|"
            r"^ParameterizedTruncatedNormal|^TruncatedNormal|^NonDeterministicInts|^Shuffle|"
            r"^SampleDistortedBoundingBox|^StatelessSampleDistorted|^ThreadUnsafeUnigram|"
            r"^AllCandidateSampler|^FixedUnigram|^LearnedUnigram|^LogUniformCandidateSampler|"
            r"^UniformCandidateSampler|^AnonymousSeedGenerator|^Seed"
        ),
    ),
    (
        "function and control plumbing",
        "calls and control primitives other than the ones the importer inlines or rebuilds "
        "(remote, symbolic-gradient and case/for forms; v1 frame ops appear as importer ops above)",
        _names("SymbolicGradient", "RemoteCall", "For", "FakeParam", "Fact"),
    ),
    (
        "quantized kernels",
        "integer-quantized kernels (TF-Lite style graphs); Fourier compiles float graphs "
        "(FakeQuant/QuantizeAndDequantize, which keep float, are supported: the quant family)",
        _rx(
            r"^Quantized|^Quantize(V2|DownAndShrinkRange)$|^Dequantize$|^Requantize|"
            r"^RequantizationRange|^UniformQuantize|^UniformDequantize|^UniformRequantize|"
            r"^UniformQuantized|^_Quantized|^QuantizedMatMul"
        ),
    ),
    (
        "complex numbers and signal processing",
        "complex dtypes and FFTs: the JAX backend's inference graphs are real-valued",
        _rx(r"FFT|^Complex|^Real$|^Imag$|^Angle$|^Conj$|^ComplexAbs$|^ConjugateTranspose$"),
    ),
    (
        "linear algebra decompositions",
        "factorizations and solvers (Cholesky, QR, SVD, Eig, Lu, solves, determinants, inverses): "
        "not kernels of the inference graphs Fourier serves",
        _rx(
            r"^Cholesky|^Qr$|^Svd$|^SelfAdjointEig|^Eig$|^Lu$|^MatrixSolve|^MatrixTriangularSolve|"
            r"^BandedTriangularSolve|^TridiagonalSolve|^TridiagonalMatMul|^MatrixInverse|^MatrixDeterminant|"
            r"^LogMatrixDeterminant|^MatrixExponential|^MatrixLogarithm|^MatrixSquareRoot|^BatchCholesky|"
            r"^BatchMatrix|^BatchSelfAdjointEig|^BatchSvd|^LuMatrixInverse|^Batch(FFT|IFFT)|^BatchMatrixBandPart|"
            r"^BatchMatrixDiag|^BatchMatrixSetDiag"
        ),
    ),
]


def _deprecated(name: str) -> bool:
    from tensorflow.python.framework import op_def_registry

    op_def = op_def_registry.get(name)
    return op_def is not None and op_def.deprecation.version > 0


def tf_op_names() -> list[str]:
    """Every public op TensorFlow registers: the names under ``tf.raw_ops`` (its internal ops,
    named with a leading underscore, are not there)."""
    import tensorflow as tf

    return sorted(n for n in dir(tf.raw_ops) if not n.startswith("_"))


@dataclass
class Coverage:
    """TensorFlow's op list, classified."""

    total: int
    supported: list[str]
    importer: list[str]
    left_out: dict[str, list[str]]  # by category
    unsupported: list[str]  # inference ops Fourier does not support yet


def classify(name: str, registered: Iterable[str] | None = None) -> tuple[str, str]:
    """Where a TensorFlow op stands: ("supported", ""), ("importer", why), (category, reason), or
    ("unsupported", "")."""
    from fourier.ops.registry import all_ops

    ops = all_ops()
    reg = set(registered) if registered is not None else set(ops)
    if name in reg and ops[name].family != "fused":
        return "supported", ""
    if name in IMPORTER_OPS:
        return "importer", IMPORTER_OPS[name]
    for category, reason, pred in LEFT_OUT:
        if pred(name):
            return category, reason
    return "unsupported", ""


def coverage(names: Iterable[str] | None = None) -> Coverage:
    """Classify TensorFlow's op list (or ``names``) against Fourier's registry."""
    import fourier.ops  # noqa: F401  (fills the registry)
    from fourier.ops.registry import all_ops

    registered = set(all_ops())
    tf_names = list(names) if names is not None else tf_op_names()
    cov = Coverage(len(tf_names), [], [], {c: [] for c, _, _ in LEFT_OUT}, [])
    for n in tf_names:
        kind, _ = classify(n, registered)
        if kind == "supported":
            cov.supported.append(n)
        elif kind == "importer":
            cov.importer.append(n)
        elif kind == "unsupported":
            cov.unsupported.append(n)
        else:
            cov.left_out[kind].append(n)
    return cov


COMMAND = "python -m fourier.testing.conformance --coverage --write docs/ops.md"


def markdown(cov: Coverage) -> str:
    """The coverage section of docs/ops.md (from its heading to the end of the file)."""
    import tensorflow as tf

    reasons = {c: r for c, r, _ in LEFT_OUT}
    left = sum(len(v) for v in cov.left_out.values())
    wrap = lambda text: textwrap.fill(text, 100, break_on_hyphens=False, break_long_words=False)
    lines = [
        COVERAGE_HEADING,
        "",
        wrap(
            f"Written by `{COMMAND}` from TensorFlow {tf.__version__}'s op list (`tf.raw_ops`): "
            "each op is supported (a registry entry, or handled by the importer), left out by category "
            "with the reason (the first category whose pattern matches, `LEFT_OUT` in "
            "`fourier/testing/conformance.py`), or an inference op Fourier does not support yet. "
            "Supported ops are checked against TensorFlow's own kernels over their dtypes, attributes "
            "and edge cases (`tests/test_conformance.py`, `tests/test_ops_longtail.py`; the ops the "
            "host runs in `tests/test_host.py` and `tests/test_feature_columns.py`)."
        ),
        "",
        wrap(
            f"TensorFlow registers {cov.total} ops. Fourier supports {len(cov.supported)} of them as "
            f"registry entries and {len(cov.importer)} more in the importer; {left} are left out by "
            f"category; {len(cov.unsupported)} are inference ops not supported yet."
        ),
        "",
        "| category | ops | why |",
        "|---|---:|---|",
        f"| supported (registry) | {len(cov.supported)} | checked against TensorFlow's kernels "
        "(tests/test_conformance.py, tests/test_ops_longtail.py; host ops: tests/test_host.py, "
        "tests/test_feature_columns.py) |",
        f"| supported (importer) | {len(cov.importer)} | {', '.join(cov.importer)} |",
    ]
    for c, ops in cov.left_out.items():
        lines.append(f"| left out: {c} | {len(ops)} | {reasons[c]} |")
    lines.append(f"| not supported yet | {len(cov.unsupported)} | listed below |")
    lines += [
        "",
        "Inference ops not supported yet:",
        "",
        wrap(", ".join(f"`{n}`" for n in cov.unsupported)),
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the coverage section at the end of ``path`` (or append it): the rest of the file is
    written by `fourier.ops.doc` and left as it is."""
    text = path.read_text()
    head = text.partition("\n" + COVERAGE_HEADING)[0]
    path.write_text(head.rstrip("\n") + "\n\n" + section)


def main(argv: list[str] | None = None) -> int:
    """``--coverage``: print the classification of TensorFlow's op list (``--markdown`` for docs)."""
    p = argparse.ArgumentParser(prog="python -m fourier.testing.conformance", description=__doc__)
    p.add_argument("--coverage", action="store_true", help="classify TensorFlow's op list")
    p.add_argument("--markdown", action="store_true", help="print the section docs/ops.md ends with")
    p.add_argument("--write", type=Path, metavar="OPS_MD", help="replace that section in this file")
    p.add_argument("--category", help="print the ops of one category (or 'supported', 'unsupported')")
    args = p.parse_args(argv)
    if not args.coverage:
        p.print_help()
        return 2
    from fourier.testing.cache import tf_env

    tf_env()
    cov = coverage()
    if args.markdown:
        print(markdown(cov), end="")
        return 0
    if args.write:
        write_section(args.write, markdown(cov))
        return 0
    groups = {
        "supported": cov.supported,
        "importer": cov.importer,
        **cov.left_out,
        "unsupported": cov.unsupported,
    }
    if args.category:
        print("\n".join(groups[args.category]))
        return 0
    for k, v in groups.items():
        print(f"{len(v):5d}  {k}")
    print(f"{cov.total:5d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
