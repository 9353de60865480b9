// Package report turns model outputs into what a person reads.
//
//   - Metrics: Evaluate scores class probabilities against labels: accuracy and per-class recall
//     with Wilson intervals, ROC AUC with its DeLong interval (one-vs-rest per class and macro for
//     more than two classes), precision-recall curves and average precision, the Brier score, a
//     reliability table and, for two classes, operating points (sensitivity, specificity, PPV, NPV
//     with intervals) at the threshold in use and at thresholds chosen on the data. The building
//     blocks (DeLong, PrecisionRecall, Reliability, OperatingPoints) work on any binary scores.
//   - Plots: PNGs drawn with gonum/plot at a size legible in a report: loss and accuracy curves,
//     bands over repeats, ROC, precision-recall, reliability and confusion matrix. Legends sit in a
//     band below the axes, never over the data.
//   - Images: Highlight picks the errors (by loss) and the most confident correct predictions per
//     class, ExampleGallery makes captioned thumbnails of them, WritePredictionsCSV lists every
//     image's probabilities.
//   - Documents: a Document of sections (paragraphs, tables, figures, galleries, notes) written as
//     Markdown beside its images or as one self-contained HTML page.
package report
