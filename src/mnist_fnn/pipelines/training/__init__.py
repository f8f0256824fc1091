"""Training pipeline: one namespace per configuration, each trains and evaluates."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
