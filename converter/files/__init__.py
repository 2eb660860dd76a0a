"""Everything between onnxport and the disk: model arguments checked before imports (model_paths), loading and
saving with external data (model_io), the outputs' write contract (output_paths), graph <-> proto keeping
IR version, opset and metadata (graph_io), and the lowering recipes kept in a model's metadata
(recipe_store).

May import: onnxport.errors, onnxport.passes (its public names) and the ground floor's attribute_checks and
progress. No other wing, nor the engine: every wing and the engine read and write through this one.
"""
