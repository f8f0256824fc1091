"""Reporting pipeline: comparison table, loss curves and confusion-matrix plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
