"""Evaluation (metrics, tables, Cityscapes evaluation) and training hooks."""
