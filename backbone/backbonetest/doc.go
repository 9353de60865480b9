// Package backbonetest writes tiny fixtures for tests that need a backbone or a labelled image
// folder, so that they run without the real backbones and datasets of ../shared.
//
// # Tiny backbone
//
// [Write] builds a complete backbone folder the way the converter of package models does: a
// constants-only SavedModel written with tf.WriteSavedModel, its spec (models.SpecFile, written
// with models.WriteSpec, recording the folder's models.ContentDigest) and a labels file. The serving_default signature takes "images",
// float32 [-1, H, W, 3], normalised as (x - 128) / 128 per channel (MobileNet's input), and gives
// "features" [-1, F] and "logits" [-1, L]. The graph is a miniature MobileNetV2 with the same
// operation types as the converted backbones, so that gradient and Grad-CAM code meet what they
// meet in production:
//
//	stem      Pad (0,1) bottom/right, Conv2D 3x3 stride 2 VALID 3->8, BiasAdd, Relu6
//	block     DepthwiseConv2dNative 3x3 SAME, BiasAdd, Relu6,
//	          Conv2D 1x1 8->8, BiasAdd (linear projection), AddV2 with the block input
//	head      Conv2D 1x1 8->F, BiasAdd, Relu6 (op LastConv: the last convolutional activation)
//	pool      Mean over height and width (keep_dims), Reshape [-1, F], Identity "features"
//	logits    MatMul F->L, BiasAdd, Identity "logits"
//
// Weights are Const operations named after their layer (stem/weights, block/depthwise/bias, ...)
// and drawn from a seeded generator (He's scale, each unit's weights summing to zero, small
// positive biases). The same [Options] give the same weights and features, and the same source
// sha256 in the spec; saved_model.pb itself differs from write to write in the order of
// attributes, so its digests do too. With the defaults (16x16 input, F = 8, L = 5) the model has
// 493 weights and opens in milliseconds. The stem mixes the colour channels and the zero-sum
// weights keep the ReLUs mostly active, so images of different colour or layout get clearly
// different features, and a head can learn to tell the classes of [WriteDataset] apart from them.
//
// # Tiny dataset
//
// [WriteDataset] writes DIR/train/<class>/*.png and DIR/validation/<class>/*.png in which each
// class has its own hue, under a random brightness gradient, discs of lighter and darker shades
// and pixel noise: every image differs, and the classes differ at a glance.
package backbonetest
