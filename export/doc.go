// Package export turns a lessdata model bundle (package bundle) into files other tools run: one
// self-contained SavedModel (TensorFlow Serving and friends) and a TFLite flatbuffer (phones,
// microcontrollers), each with its labels and a metadata file beside it.
//
// The SavedModel holds everything predict does in one graph, written from Go: decoding (a
// MapDefun over the batch of encoded files calls a function that decodes JPEG with DecodeJpeg,
// without chroma smoothing and with the accurate integer IDCT, and other formats with
// DecodeImage), transparency over white, resizing with an antialiased bilinear filter and the
// 16-bit premultiplied arithmetic and 8-bit rounding of golang.org/x/image/draw, so that the
// pixels match dataset.LoadImage's; then the normalisation the bundle records, the backbone (if
// any) and the model. Frozen graphs are joined at the GraphDef level: each one's nodes are
// pruned to what its output needs, renamed under a prefix, and its input placeholder becomes an
// Identity of the tensor that feeds it. Functions and the If that picks the decoder are written
// as FunctionDefs, since the C API cannot set function attributes.
//
// The TFLite file is converted from the same graph, from the pixels to the probabilities:
// operations that do not depend on the pixels' values (a frozen, switched-off dropout) are
// evaluated once, and every other one maps to a TFLite builtin with float32 weights.
//
// Faithfulness: on images already resized by lessdata (the "pixels" signature, the TFLite
// input) the probabilities equal predict's up to float32 rounding. On encoded files, resize
// weights in float32 against draw's float64 put about one 8-bit value in ten thousand one step
// apart for PNG and BMP; TensorFlow's libjpeg-turbo and Go's image/jpeg put about one in eight
// one step apart for JPEG. EXIF orientation, which lessdata applies, is not applied by the
// graph: send upright images, or resized pixels.
package export
