// Package serve is lessdata's local web app for one trained model: a page (embedded in the
// binary) to drop or pick images and see each prediction with its probability bars, the run's
// report, and a JSON API, POST /api/predict, that returns what `lessdata predict --format json`
// prints.
//
// Uploads are decoded exactly as predict decodes files (dataset.LoadImage with TensorFlow's JPEG
// decoder as fallback). Requests run concurrently; their decoded images are gathered by one
// goroutine into batches of at most Options.MaxBatch images, so the model runs one batch at a
// time. Limits on the body size, the number of files and the pixels of an image give JSON
// errors; a file that is not an image gets its own error row, and the others are predicted.
package serve
