// Package tune fine-tunes a backbone: the second phase of transfer learning, after a head has
// been fitted on frozen features. It reads a backbone converted by lessdata (a SavedModel whose
// weights are constants), finds its weighted layers and groups them into blocks from the graph's
// structure (Inspect), and builds a training graph in which the weights of the top blocks (or of
// every layer from a named one on) are variables initialised from the constants while the rest
// stay constants, outside the gradients. A linear head (one sigmoid unit for two classes, a
// softmax for more), started from the phase-1 head (head.Weights, with its feature
// normalisation), sits on the pooled features; the loss is cross-entropy and Adam, at a small
// learning rate, updates the trainable weights with gradients from TensorFlow
// (TF_AddGradients). Options.Float64 runs the same graph in double precision, which the
// gradient checks use.
//
// The converter folds every batch normalisation into the kernel and bias of the convolution
// before it, so a converted backbone has no batch-norm layers: there are no moving statistics to
// freeze or to keep in inference mode, and the network computes the same function in training
// and in prediction (apart from the head's dropout).
//
// Model.Freeze writes the fine-tuned network, backbone and head, as one SavedModel that predicts
// without the original backbone and exposes the feature map for Grad-CAM (package gradcam).
package tune
