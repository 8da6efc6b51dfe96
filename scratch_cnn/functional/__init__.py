"""Stateless maths of the engine: every forward function sits beside its backward.

Functions here take and return arrays of any Array-API namespace (NumPy, CuPy,
``array_api_strict``); they own no weights. Layers in :mod:`scratch_cnn.layers` call them.
"""
