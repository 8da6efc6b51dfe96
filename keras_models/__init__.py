"""cnnbench: keras_models package."""
