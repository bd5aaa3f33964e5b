"""Landmark model files: manifest, verification and offline preparation."""

from models.registry import ModelUnavailableError, model_path

__all__ = ["ModelUnavailableError", "model_path"]
