"""`govhub opendata ...`: the Open Data Platform's commands."""

from __future__ import annotations

import typer

opendata_app = typer.Typer(help="Open Data Platform: harvest other catalogs.", no_args_is_help=True)
