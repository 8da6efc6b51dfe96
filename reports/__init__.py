"""cnnbench: reports package."""
