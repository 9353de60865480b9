// Package bundle writes and reads lessdata's model bundle: a run folder holding bundle.json (what
// the model is, its classes and how to feed it) and model/, the trained network frozen as a
// SavedModel. predict and eval reload it.
//
// It also owns run folders: [Begin] writes a run into a hidden sibling folder and [RunDir.Commit]
// moves it into place; every run folder carries a marker file ([MarkerFile]) so that --force only
// ever replaces a folder lessdata made ([IsRun]), and [CheckOut] refuses an output folder that
// would overwrite the inputs or the current folder.
package bundle
