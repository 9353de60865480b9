// Package head defines the classifiers that sit on frozen backbone features.
//
// # Linear head
//
// [Fit] solves L2-regularised logistic regression to convergence, with scikit-learn's
// parametrisation (LogisticRegression, solver lbfgs):
//
//	minimise 0.5·||W||² + C·Σ_i w_i·logloss_i      (intercepts not penalised)
//
// with one sigmoid output for two classes and a softmax over K outputs for K ≥ 3 (multinomial;
// the intercepts are centred to sum to zero). The solver is gonum's L-BFGS (More-Thuente line
// search) in float64 on the objective divided by C·Σw_i, until the largest gradient entry is
// at most [FitTolerance]; coefficients then agree with scikit-learn's within about 1e-6
// relative (tests/test_linear_head.py). Features are first normalised ([NormL2] per row, or
// [NormStandardize] with the training rows' mean and standard deviation, or [NormNone]); the
// model keeps what it needs to normalise new rows. [Model.Weights] exports the parameters as
// plain numbers, with the exact formula prob = f(x), to build a TensorFlow graph of the head.
//
// [FitCV] chooses C (from [DefaultCs], 1e-4..1e4) and optionally the normalisation by
// stratified k-fold cross-validation on the training rows only, scored by the held-out mean
// log-loss (ties within [TieTolerance] go to the higher accuracy, then to the candidate listed
// first: normalisations in the order given, smaller C first). Rows may be grouped (the
// augmented views of one image share its group and its fold), weighted, and marked valid
// (only valid rows, e.g. the plain views, are scored). It returns every candidate's score, the
// out-of-fold probabilities at the chosen candidate, and the model refitted on all rows. Folds
// run in parallel; results are identical bit for bit whatever the parallelism. Each fold's
// path over the C grid is warm-started, which keeps 5-fold cross-validation over 17 values of
// C on 1,000 × 1,280 features to about half a second of CPU for two classes (BenchmarkFitCV).
//
// [SensitivityThreshold] turns out-of-fold probabilities into the decision threshold that
// reaches a target sensitivity.
//
// # Neural heads
//
// [New] builds the small trainable heads that train with Adam through package nn: a dense
// output layer (one sigmoid unit for two classes, a softmax for more), with an optional hidden
// layer, dropout and L2.
package head
