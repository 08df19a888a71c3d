"""The workloads: each builds its flow, times one run and verifies its counts."""
