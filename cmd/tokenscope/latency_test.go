package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"tokenscope/apiclient"
)

func TestLatencyHistBuckets(t *testing.T) {
	if got := bucketOf(uint64(histMax)); got != histBuckets-1 {
		t.Fatalf("bucketOf(1h) = %d, want histBuckets-1 = %d", got, histBuckets-1)
	}
	// The buckets tile the range: each starts where the one before ends, and the bucket of
	// each bound is that bucket.
	for i := 1; i < histBuckets; i++ {
		lo, w := bucketRange(i)
		plo, pw := bucketRange(i - 1)
		if lo != plo+pw || bucketOf(lo) != i || bucketOf(lo+w-1) != i {
			t.Fatalf("bucket %d = [%d, +%d) after [%d, +%d)", i, lo, w, plo, pw)
		}
		if i >= histLinear && float64(w)/float64(lo) > 1.0/64 {
			t.Fatalf("bucket %d is %d wide at %d: more than 1/64", i, w, lo)
		}
	}
}

// TestLatencyHistPercentiles: on known distributions, the histogram's percentiles are within
// 1% of the exact ones taken from all the values sorted, as fire took them before.
func TestLatencyHistPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		// loopback-like: around 300 µs, a long tail
		"lognormal": func() time.Duration { return time.Duration(300e3 * math.Exp(rng.NormFloat64())) },
		// log-uniform over the whole range, 1 µs to 1 h
		"log-uniform": func() time.Duration { return time.Duration(1e3 * math.Pow(3.6e9, rng.Float64())) },
		// two modes: fast answers and ones that waited on a 20 ms refresh
		"bimodal": func() time.Duration {
			if rng.IntN(10) == 0 {
				return 20*time.Millisecond + time.Duration(rng.IntN(5e6))
			}
			return time.Duration(100e3 + rng.IntN(400e3))
		},
	}
	for name, draw := range dists {
		var h latencyHist
		all := make([]time.Duration, 200_000)
		for i := range all {
			all[i] = draw()
			h.add(all[i])
		}
		slices.Sort(all)
		for _, p := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
			exact := all[int(float64(len(all)-1)*p+0.5)]
			got := h.quantile(p)
			if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.01 {
				t.Errorf("%s p%g: histogram %v, exact %v: off by %.2f%%", name, p*100, got, exact, rel*100)
			}
		}
	}
	var empty latencyHist
	if empty.quantile(0.5) != 0 {
		t.Error("an empty histogram's p50 is not 0")
	}
}

// TestFireTallyMemoryIsBounded: what fire keeps per request allocates nothing, so a run's
// memory does not grow with -n; ten million answers fit in the same fixed-size histogram.
func TestFireTallyMemoryIsBounded(t *testing.T) {
	ta := newTally()
	now := time.Now()
	r := apiclient.Result{ID: 1, Outcome: apiclient.OK, Sent: now.Add(-time.Millisecond)}
	if a := testing.AllocsPerRun(10_000, func() { r.ID++; ta.add(r) }); a != 0 {
		t.Errorf("tally.add allocates %v times per request; want 0", a)
	}
	var h latencyHist
	for i := range 10_000_000 {
		h.add(time.Duration(1000+i%1000) * time.Microsecond)
	}
	if h.n != 10_000_000 {
		t.Fatalf("counted %d", h.n)
	}
	if p50 := h.quantile(0.5); math.Abs(float64(p50-1500*time.Microsecond)) > 0.01*float64(1500*time.Microsecond) {
		t.Errorf("p50 of 10M durations 1..2 ms = %v", p50)
	}
}
