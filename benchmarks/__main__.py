"""`python -m benchmarks` (`make bench`): every benchmark, with its default settings."""

from benchmarks import vote_load

if __name__ == "__main__":
    raise SystemExit(vote_load.main())
