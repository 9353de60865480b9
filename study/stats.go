package study

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a mean with its confidence interval.
type Interval struct {
	Mean float64 `json:"mean"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	SD   float64 `json:"sd"`
	N    int     `json:"n"`
}

// TInterval returns the mean of xs with its Student t confidence interval at level conf (0.95
// for 95%). With one value the interval is that value; NaN values are left out.
func TInterval(xs []float64, conf float64) Interval {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Interval{Mean: math.NaN(), Low: math.NaN(), High: math.NaN(), SD: math.NaN()}
	}
	mean, sd := stat.MeanStdDev(v, nil)
	if len(v) == 1 {
		return Interval{Mean: mean, Low: mean, High: mean, N: 1}
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(v) - 1)}.Quantile(0.5 + conf/2)
	half := t * sd / math.Sqrt(float64(len(v)))
	return Interval{Mean: mean, Low: mean - half, High: mean + half, SD: sd, N: len(v)}
}

// PairedDifference returns the interval of b[i] - a[i] over the pairs where both are numbers:
// the difference between two methods measured on the same folds or repeats.
func PairedDifference(a, b []float64, conf float64) Interval {
	var d []float64
	for i := range a {
		if i < len(b) && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
			d = append(d, b[i]-a[i])
		}
	}
	return TInterval(d, conf)
}
