"""Importers: TensorFlow GraphDef (binary or text) and SavedModel into the IR."""

from fourier.importer.graphdef import import_graphdef, load_graph, parse_graphdef

__all__ = ["import_graphdef", "load_graph", "parse_graphdef"]
