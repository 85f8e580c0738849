"""Choosing the model: task classification, the route plan, health, cooldowns, deployments."""
