"""Evaluation over a fixed question set: metrics are pure functions over plain data, kept apart from
running the engine and writing reports."""
