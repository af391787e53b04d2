"""Optimization passes over the IR (installed as fourier.passes).

``base`` says what a pass is; one module per pass family (``cleanup``, ``cse``, ``fold``,
``fusion``) and rule sets by topic (``rules/``) on the rewrite driver (``rewrite``); ``library``
lists every pass and reads pipeline text; ``manager`` runs a pipeline with ``instruments``;
``reproducer`` stores a failing pipeline's input for replay.
"""
