// Package predict reloads a model bundle (package bundle) and gives class probabilities for new
// images: a scratch model's input is standardised as in training; a transfer model's features
// come from its backbone, which must be the one it was trained with, averaged over views when
// the bundle asks for test-time augmentation; a fine-tuned model reads the normalised image
// itself. A two-class bundle's threshold decides the class ([Model.Decide]), and
// [Model.Explain] writes Grad-CAM overlays for models with a backbone.
//
// Open refuses a bundle whose model does not match its bundle.json. [Model.Stream] decodes and
// predicts in bounded chunks, so memory does not grow with the number of images; [ExpandPaths]
// turns command-line arguments into image files, reporting bad arguments one by one.
package predict
