// Package dataset finds the labelled images of a small image-classification
// dataset on disk and decodes them robustly into RGB float images.
//
// Two folder layouts are recognised by [Load]:
//
//	DIR/train/<class>/*  and  DIR/validation/<class>/*  (or DIR/val/<class>/*)
//	DIR/<class>/*        split per class into train and validation by Options.ValSplit
//
// Scanning reads only file headers, so it is fast and refuses non-images and
// oversized images before any pixels are decoded. Pixels are decoded later by
// [DecodeFile], [LoadImage] or a [Cache].
//
// Load never takes a lessdata run or audit folder for a class, and it reports in
// Dataset.Warnings what looks wrong but does not stop it (a class that gives no
// validation image, a class whose images are all of a kind the others do not
// use). Decoding failures found later are moved to Dataset.Skipped with
// [Dataset.Drop], so that counts stay true.
package dataset
