package tflite

import (
	"fmt"
	"strings"
)

// Model is a decoded TensorFlow Lite model (the root table of a .tflite file).
type Model struct {
	Version       uint32         // schema version (3 for current files)
	Description   string         // free-form description written by the converter
	OperatorCodes []OperatorCode // op kinds referenced by Operator.OpcodeIndex
	Subgraphs     []Subgraph     // subgraph 0 is the main graph
	Buffers       [][]byte       // raw data of each buffer (nil when empty); may alias the parsed bytes
}

// OperatorCode identifies the kind of an operator.
type OperatorCode struct {
	Builtin    BuiltinOp // builtin op code (max of builtin_code and deprecated_builtin_code)
	CustomCode string    // name of a custom op (Builtin == OpCustom)
	Version    int32     // op version, schema default 1
}

// Subgraph is one graph of tensors and operators.
type Subgraph struct {
	Name      string
	Tensors   []Tensor
	Inputs    []int32 // indices into Tensors
	Outputs   []int32 // indices into Tensors
	Operators []Operator
}

// Tensor describes one tensor of a subgraph.
type Tensor struct {
	Name   string
	Shape  []int32
	Type   TensorType
	Buffer uint32        // index into Model.Buffers; buffer 0 is the empty sentinel
	Quant  *Quantization // nil when the file stores no quantisation parameters
}

// NumElements returns the product of the tensor's dimensions (1 for a scalar),
// or -1 when a dimension is negative or the product overflows an int.
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > int(^uint(0)>>1)/int(d)) {
			return -1
		}
		n *= int(d)
	}
	return n
}

// Quantization holds affine quantisation parameters: real = Scale*(q-ZeroPoint).
// With more than one scale the tensor is quantised per axis along QuantizedDimension.
type Quantization struct {
	Min, Max           []float32
	Scale              []float32
	ZeroPoint          []int64
	QuantizedDimension int32
}

// Operator is one node of a subgraph. Inputs and Outputs are tensor indices;
// -1 marks an omitted optional input.
type Operator struct {
	OpcodeIndex uint32 // index into Model.OperatorCodes
	Inputs      []int32
	Outputs     []int32
	// Options holds the decoded builtin options as a pointer (*Conv2DOptions,
	// *DepthwiseConv2DOptions, *Pool2DOptions, *AddOptions, *ReshapeOptions,
	// *SoftmaxOptions, *FullyConnectedOptions or *ConcatenationOptions), or nil
	// for ops whose options are not decoded.
	Options any
}

// Padding is the padding scheme of convolutions and pools.
type Padding int8

// Padding values.
const (
	PaddingSame  Padding = 0
	PaddingValid Padding = 1
)

// String returns the schema name ("SAME", "VALID").
func (p Padding) String() string { return enumName(int(p), "Padding", "SAME", "VALID") }

// Activation is a fused activation function.
type Activation int8

// Activation values.
const (
	ActNone      Activation = 0
	ActRelu      Activation = 1
	ActReluN1To1 Activation = 2
	ActRelu6     Activation = 3
	ActTanh      Activation = 4
	ActSignBit   Activation = 5
)

// String returns the schema name ("NONE", "RELU6", ...).
func (a Activation) String() string {
	return enumName(int(a), "Activation", "NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
}

// Conv2DOptions are the options of CONV_2D.
type Conv2DOptions struct {
	Padding              Padding
	StrideW, StrideH     int32
	Activation           Activation
	DilationW, DilationH int32 // schema default 1
}

// DepthwiseConv2DOptions are the options of DEPTHWISE_CONV_2D.
type DepthwiseConv2DOptions struct {
	Padding                           Padding
	StrideW, StrideH, DepthMultiplier int32
	Activation                        Activation
	DilationW, DilationH              int32 // schema default 1
}

// Pool2DOptions are the options of AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D.
type Pool2DOptions struct {
	Padding                            Padding
	StrideW, StrideH, FilterW, FilterH int32
	Activation                         Activation
}

// AddOptions are the options of ADD.
type AddOptions struct{ Activation Activation }

// ReshapeOptions are the options of RESHAPE. NewShape may be empty when the
// shape is given by the second input tensor instead.
type ReshapeOptions struct{ NewShape []int32 }

// SoftmaxOptions are the options of SOFTMAX.
type SoftmaxOptions struct{ Beta float32 }

// FullyConnectedOptions are the options of FULLY_CONNECTED.
type FullyConnectedOptions struct{ Activation Activation }

// ConcatenationOptions are the options of CONCATENATION.
type ConcatenationOptions struct {
	Axis       int32
	Activation Activation
}

// TensorType is the element type of a tensor.
type TensorType int8

// Tensor types.
const (
	TypeFloat32   TensorType = 0
	TypeFloat16   TensorType = 1
	TypeInt32     TensorType = 2
	TypeUint8     TensorType = 3
	TypeInt64     TensorType = 4
	TypeString    TensorType = 5
	TypeBool      TensorType = 6
	TypeInt16     TensorType = 7
	TypeComplex64 TensorType = 8
	TypeInt8      TensorType = 9
	TypeFloat64   TensorType = 10
)

var typeNames = strings.Fields("FLOAT32 FLOAT16 INT32 UINT8 INT64 STRING BOOL INT16 COMPLEX64 INT8 " +
	"FLOAT64 COMPLEX128 UINT64 RESOURCE VARIANT UINT32 UINT16 INT4 BFLOAT16")

// String returns the schema name ("UINT8", ...).
func (t TensorType) String() string { return enumName(int(t), "TensorType", typeNames...) }

// BuiltinOp is a builtin operator code (schema enum BuiltinOperator).
type BuiltinOp int32

// Builtin operator codes used by common image classifiers; String knows all
// names of the schema.
const (
	OpAdd             BuiltinOp = 0
	OpAveragePool2D   BuiltinOp = 1
	OpConcatenation   BuiltinOp = 2
	OpConv2D          BuiltinOp = 3
	OpDepthwiseConv2D BuiltinOp = 4
	OpDequantize      BuiltinOp = 6
	OpFullyConnected  BuiltinOp = 9
	OpL2Pool2D        BuiltinOp = 12
	OpLogistic        BuiltinOp = 14
	OpMaxPool2D       BuiltinOp = 17
	OpMul             BuiltinOp = 18
	OpRelu            BuiltinOp = 19
	OpRelu6           BuiltinOp = 21
	OpReshape         BuiltinOp = 22
	OpSoftmax         BuiltinOp = 25
	OpTanh            BuiltinOp = 28
	OpCustom          BuiltinOp = 32
	OpPad             BuiltinOp = 34
	OpMean            BuiltinOp = 40
	OpSub             BuiltinOp = 41
	OpSqueeze         BuiltinOp = 43
	OpStridedSlice    BuiltinOp = 45
	OpPadV2           BuiltinOp = 60
	OpQuantize        BuiltinOp = 114
	OpHardSwish       BuiltinOp = 117
)

var opNames = strings.Fields(
	"ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE " +
		"EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D " +
		"LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU " +
		"RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH " +
		"CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD " +
		"UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB " +
		"DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP " +
		"TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX " +
		"MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV " +
		"SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN " +
		"FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK " +
		"REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE " +
		"RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL " +
		"REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE " +
		"MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 " +
		"SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES " +
		"CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE " +
		"HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE " +
		"READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE " +
		"RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD " +
		"UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST " +
		"BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD STABLEHLO_DIVIDE " +
		"STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP " +
		"STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE " +
		"STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE " +
		"STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE " +
		"STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT " +
		"STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT " +
		"STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA " +
		"STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE " +
		"STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW " +
		"STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT")

// String returns the schema name ("CONV_2D", ...).
func (op BuiltinOp) String() string { return enumName(int(op), "BuiltinOp", opNames...) }

func enumName(v int, typ string, names ...string) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}
