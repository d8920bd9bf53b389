"""Load and scale benchmarks (see benchmarks/README.md). Not part of pytest."""
