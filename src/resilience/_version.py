"""The package version, read by the build backend and `resilience --version`."""

__version__ = "0.1.0"
