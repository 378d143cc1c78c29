"""``python -m access15`` runs the command line."""

from .cli import app

if __name__ == "__main__":  # guarded: Dask's worker processes (spawn) import this module again
    app()
