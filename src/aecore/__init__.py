"""Sparse autoencoders on colour image patches, and the study built on them."""

__version__ = "0.1.0"
