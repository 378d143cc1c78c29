"""``python -m access15`` runs the command line."""

from .cli import app

app()
