"""adapters/docker layer."""
