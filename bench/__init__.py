"""Load harness: mock OpenAI upstream, bare pass-through baseline, load clients, report.

``python -m bench.run`` (or ``make bench``) runs every scenario and writes a Markdown
table to ``bench/results/``; see docs/performance.md.
"""
