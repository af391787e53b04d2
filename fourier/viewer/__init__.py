"""Seeing what the passes did: pass tables and IR diffs for the terminal (and, later, HTML)."""
