"""toolwall's decision-latency benchmark: `make bench` (or `python -m benchmarks`)."""
