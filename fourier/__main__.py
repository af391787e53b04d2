"""``python -m fourier`` runs the CLI."""

from fourier.cli import main

main()
