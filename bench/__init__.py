"""The routilux benchmark suite.

Run it from the repository root with ``python -m bench`` (or ``make bench``);
``python -m bench --help`` lists the options. Each repetition of each
workload runs in a fresh ``python -m bench.worker`` subprocess, verifies its
own counts, and reports one figure; the harness keeps the median, minimum
and maximum, writes JSON and a Markdown table, and prints the table.
"""
