// Package finetune fits lessdata's models: the training loop (shuffled batches drawn fresh each
// step, validation every epoch, history, early stopping, keeping the best weights, a stop with
// an error when the loss diverges, clean stops on Ctrl-C) and the recipes: the article's CNN from
// scratch (Scratch); on the features of a frozen backbone, extracted once through the backbone's
// feature cache, the linear head solved to convergence and tuned by inner cross-validation
// (Linear) or the MLP head trained by epochs (Transfer); and the backbone's top blocks
// fine-tuned with the linear head (FineTune, package tune).
package finetune
