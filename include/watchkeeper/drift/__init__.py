"""Drift measurement: one small unit per method in `methods`, applied to features and predictions by `stage`.

Bounds for every (column, method) come from reference chunks (see `watchkeeper.reference`).
"""
