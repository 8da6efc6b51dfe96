"""cnnbench: suite package."""
