"""Whether two models compute the same outputs: the orchestration (verify), where each model runs
(sessions: providers, onnxruntime, the reference evaluator, a runtime's worker), how two outputs compare
(comparison), the sizes and inputs a verification runs at (run_plan, saved_data), and timing forms
against each other (timing, which --strategy auto uses too).

May import: onnxport.errors, the ground floor of converter (shape_inference, input_specs, macs, progress,
report_header, and runtime: which onnxruntime, whether CUDA runs; it stays below, since report headers and
the choice cache read it too), sizes (the admissible sizes runs are planned at), files and the runtime
adapters (converter.runtimes). Never the engine (conversion, pipeline, auto_strategy), reports or the
commands (api, inspection, size_edits, size_probe).
"""
