"""What a command tells its user: the conversion report (report) with each rewrite before and after
(rewrites), and the self-contained HTML page (html_report) with its pictures (svg_graph, svg_charts).

May import: onnxport.errors, onnxport.passes (its public names: a pass's stated identity, who wrote which
node), the ground floor of converter (shape_inference, input_specs, report_header) and verification (a
report holds its VerifyResult). Never the engine (conversion, pipeline, auto_strategy) or the commands
(api, inspection, size_edits, size_probe).
"""
