"""Host/device partitioning: the feature-processing part of a graph on the host, the rest in XLA.

The layers, bottom up (each imports only those above it in this list):

- `fourier.host.hashing`: TensorFlow's string hashes in vectorized numpy (bit-exact).
- `fourier.host.tables`: hash-table contents (`HostTable`), lookups, and their safe file form.
  These two sit below the op registry: the ``host`` op family (`fourier.ops.host`) runs them.
- `fourier.host.extract`: a model with its tables: a SavedModel (tables read with TensorFlow at
  compile time) or a frozen ``.pb`` whose tables have constant initializers.
- `fourier.host.partition`: place each node on the host or the device with a min-cut (`Plan`).
- `fourier.host.executor`: run the host part on numpy (`HostExecutor`); `HostPart`, what serving
  needs of a plan; `PartitionedModel`, the host part feeding the device part.
- `fourier.host.saved`: a `HostPart` at rest (``host.json`` and ``host_tables.safetensors``).

The serving side needs `hashing`, `tables`, `executor` and `saved` only (numpy, safetensors and
the op registry: no TensorFlow, compiler, importer or networkx). The typical flow::

    model = extract.load_model("saved_model_dir")       # graph + tables (TensorFlow, compile time)
    plan = partition.partition(model.graph)             # print(plan) shows it
    fourier.compile(plan.device, "art", buckets)        # the device part, an ordinary graph
    saved.save_host(executor.HostPart.from_plan(plan, model.tables), "art")
    served = executor.PartitionedModel(saved.load_host("art"), fourier.load("art"))
"""
