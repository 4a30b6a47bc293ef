"""collectfast: a faster collectstatic for cloud storage."""

__version__ = "3.0.0.dev0"
