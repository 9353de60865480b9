// Package gradcam explains a backbone classifier's predictions with Grad-CAM (Selvaraju et al.,
// "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization", 2017):
// the gradient of a class score (the logit, before sigmoid or softmax) with respect to the last
// convolutional feature map A (the input of the backbone's global pool) gives one weight per
// channel, its spatial mean; the heatmap is ReLU(sum_k w_k A_k) divided by its maximum, so that
// it lies in [0, 1]. Each cell sits at the centre of its receptive field, which the strides,
// kernels and paddings between the input and A decide (Grid); the image's pixels interpolate
// bilinearly between cell centres. Heatmap.Hotspot says where the map points.
//
// An Explainer works on a backbone with a linear head (head.Weights: the transfer head of phase
// 1), a head SavedModel on its features (head.Weights.Freeze, nn.Net.Freeze), or its own
// ImageNet logits (New), and on a fine-tuned network written by tune.Model.Freeze (Open). Overlay and WriteOverlay blend a
// heatmap, in the jet colour map, over the original image.
package gradcam
