"""Op families that several analyses share, so that they agree on what an op does to a shape.

UNARY ops compute each output element from the input element at the same position (output shape =
input shape). BROADCASTING ops combine their inputs by numpy broadcasting. PER_SAMPLE_NORMS keep the
shape and normalise over the spatial axes of one sample and channel (InstanceNormalization) or use
per-channel constants (BatchNormalization in inference), so they are position-preserving for shapes.
"""
UNARY = frozenset({
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Gelu", "Mish", "Swish", "HardSigmoid",
    "HardSwish", "Softplus", "Softsign", "ThresholdedRelu", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal",
    "Floor", "Ceil", "Round", "Sign", "Not", "Erf", "Sin", "Cos", "Identity", "Dropout", "Cast", "CastLike", "Clip",
    "IsNaN", "IsInf",
})

BROADCASTING = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "And", "Or", "Xor", "Equal", "Greater",
    "Less", "GreaterOrEqual", "LessOrEqual", "Mod", "PRelu", "BitShift",
})

PER_SAMPLE_NORMS = frozenset({"InstanceNormalization", "BatchNormalization", "LRN", "MeanVarianceNormalization"})

# ops whose only data input is the first one, position-preserving for the shape (their other inputs are
# per-channel constants or scalars, not broadcast against the data)
SHAPE_PRESERVING = UNARY | PER_SAMPLE_NORMS
