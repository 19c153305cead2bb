"""Commands a person runs: `python -m pipelines.commands <run|generate|benchmark|whatif|review>` (the `alms` script),
the what-if, the match review, the benchmarks, the matching evaluation and its labelled sets, the Splink comparison,
the demo-data generator and `compare_publications`. The top floor: a command may import anything, nothing imports a
command except another command (tests/test_rooms.py)."""
