"""Host/device partitioning: the feature-processing part of a graph on the host, the rest in XLA.

The layers, bottom up (each imports only those above it in this list):

- `fourier.host.hashing`: TensorFlow's string hashes in vectorized numpy (bit-exact).
- `fourier.host.tables`: hash-table contents (`HostTable`), lookups, and their safe file form.
  These two sit below the op registry: the ``host`` op family (`fourier.ops.host`) runs them.
- `fourier.host.extract`: a model with its tables: a SavedModel (tables read with TensorFlow at
  compile time) or a frozen ``.pb`` whose tables have constant initializers.
- `fourier.host.partition`: place each node on the host or the device with a min-cut (`Plan`).
- `fourier.host.executor`: run the host part on numpy and feed the device part (`HostExecutor`).

Nothing here is imported by the serving side yet; the host part needs numpy only.
"""
