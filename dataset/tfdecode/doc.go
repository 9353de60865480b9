// Package tfdecode decodes images with TensorFlow's own decoders (libjpeg-turbo for JPEG), for the
// files Go's image/jpeg rejects. Its Decode has the signature of dataset.FallbackDecoder.
//
// libjpeg prints to stderr when it meets a broken file, so callers hand it only files that
// dataset.DecodeFile has checked to be whole; errors come back on one line.
package tfdecode
