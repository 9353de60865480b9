package study

import (
	"encoding/json"
	"fmt"
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
// for 95%). NaN values are left out. With one value there is no interval: Low, High and SD are
// NaN (shown as "n/a"), never a zero-width [x, x].
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
		return Interval{Mean: mean, Low: math.NaN(), High: math.NaN(), SD: math.NaN(), N: 1}
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

// Clip01 bounds an interval of a proportion to [0, 1].
func (iv Interval) Clip01() Interval {
	if !math.IsNaN(iv.Low) {
		iv.Low = math.Max(0, iv.Low)
	}
	if !math.IsNaN(iv.High) {
		iv.High = math.Min(1, iv.High)
	}
	return iv
}

// Format writes the interval as "mean [low, high]" with three decimals, "mean (n/a, 1 value)"
// when there is no interval, and "n/a" without a mean; signed adds a sign to every number.
func (iv Interval) Format(signed bool) string {
	f := "%.3f"
	if signed {
		f = "%+.3f"
	}
	switch {
	case math.IsNaN(iv.Mean):
		return "n/a"
	case math.IsNaN(iv.Low) || math.IsNaN(iv.High):
		return fmt.Sprintf(f+" (n/a, %d value)", iv.Mean, iv.N)
	}
	return fmt.Sprintf(f+" ["+f+", "+f+"]", iv.Mean, iv.Low, iv.High)
}

// MarshalJSON writes NaN fields as null.
func (iv Interval) MarshalJSON() ([]byte, error) {
	type out struct {
		Mean *float64 `json:"mean"`
		Low  *float64 `json:"low"`
		High *float64 `json:"high"`
		SD   *float64 `json:"sd"`
		N    int      `json:"n"`
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(out{num(iv.Mean), num(iv.Low), num(iv.High), num(iv.SD), iv.N})
}

// UnmarshalJSON reads null fields as NaN.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var in struct {
		Mean, Low, High, SD *float64
		N                   int
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	val := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*iv = Interval{Mean: val(in.Mean), Low: val(in.Low), High: val(in.High), SD: val(in.SD), N: in.N}
	return nil
}
