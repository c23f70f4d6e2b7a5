"""govhub: an open-source digital government platform."""

__version__ = "0.1.0"
