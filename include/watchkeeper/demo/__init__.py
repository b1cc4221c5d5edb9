"""The demo worlds: a credit-default classifier and a delivery-time regressor with scripted incidents, and scoring.

`WORLDS[model]` writes a model's world through any `write(key, bytes)`; `score` compares day results with its truth.
"""

from watchkeeper.demo.delivery import generate_delivery_world
from watchkeeper.demo.world import generate_world

WORLDS = {"credit_default": generate_world, "delivery_time": generate_delivery_world}
"""Demo model name → the function writing its world (keyword arguments: start, days, rows_per_day, seed)."""

__all__ = ["WORLDS", "generate_delivery_world", "generate_world"]
