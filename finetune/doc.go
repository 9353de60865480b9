// Package finetune fits lessdata's models: the training loop (shuffled batches drawn fresh each
// step, validation every epoch, history, early stopping, keeping the best weights, a stop with
// an error when the loss diverges, clean stops on Ctrl-C) and the recipes that use it: the
// article's CNN from scratch, and a head on the features of a frozen backbone (augmented views
// extracted once through the backbone's feature cache).
package finetune
