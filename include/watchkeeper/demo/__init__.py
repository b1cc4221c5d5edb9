"""The demo world: a credit-default model with scripted incidents, and scoring of what Watchkeeper caught.

`generate_world` writes it through any `write(key, bytes)`; `score` compares day results with its ground truth.
"""

from watchkeeper.demo.world import generate_world

__all__ = ["generate_world"]
