"""Which input sizes a net runs at, and at which it loses nothing: the arithmetic (residues, size_sets), the
per-op length rules, the analysis over a graph (admissible_sizes) and the batch check.

May import: onnxport.errors, onnxport.passes (its public names), the ground floor of converter
(shape_inference, input_specs) and files. Never another wing, the engine (conversion, pipeline,
auto_strategy) or the commands (api, size_edits, size_probe): they read this wing, not the other way round.
"""
