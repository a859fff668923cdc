"""Benchmarks (issue 7): the product measured as its users feel it, each figure next to a
baseline measured in the same run. `make bench` (full size) or `make bench-quick` (a tenth).

Modules: `runner` (the order of things), one module per figure (`throughput`, `latency`,
`alerts`, `replay`, `memory`, `recovery`), `baseline` (the plain aiokafka loop, run as a
process), `harness` (broker, worker and Kafka plumbing), `streams` (the simulated traffic),
`report` (pure: percentiles, the table, BENCHMARKS.md), `machine` (what it ran on).
"""
