"""`make bench`: every benchmark, one after the other."""

from benchmarks import results_scale

raise SystemExit(results_scale.main([]))
