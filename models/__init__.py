"""Builders of example and reference nets (deterministic numpy weights, explicit opset and IR version)."""
