"""The bottom layer: the strict base model, dotted paths, problem reporting and metric declarations.

Everything above may import from here; nothing here imports from the rest of reachsim.
"""
