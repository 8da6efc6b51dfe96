"""cnnbench: datasets package."""
