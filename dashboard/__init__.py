"""The pipeline's dashboard: one page from generator to table, and the same figures for Prometheus."""
