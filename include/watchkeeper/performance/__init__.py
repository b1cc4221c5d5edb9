"""Model performance: metric units in `metrics`, realized on late-arriving labels by `stage`.

Bounds for each metric come from the same metric computed on reference chunks.
"""
