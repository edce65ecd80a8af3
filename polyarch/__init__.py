"""polyarch: build, run, package and publish a container stack for amd64 and arm64."""

__version__ = "0.1.0"
