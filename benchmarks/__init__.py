"""Load and scale benchmarks; see benchmarks/README.md."""
