package main

import (
	"math/bits"
	"time"
)

// latencyHist counts durations in log-linear buckets, as HDR histograms do: one bucket per
// nanosecond below 128 ns, then every power of two split into 64 equal buckets. A bucket is
// at most 1/64 of its lower bound wide, so its midpoint is within 1/128 (0.8%) of any duration
// in it. Durations are clamped to [1 µs, 1 h]. Its size is fixed (about 19 KB) however many
// durations it counts: fire once kept every latency, and -n 1000000000 died out of memory
// before its summary.
type latencyHist struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max time.Duration
}

const (
	histSubBits = 6                // 2^6 buckets per power of two
	histLinear  = 2 << histSubBits // below this many nanoseconds, one bucket per nanosecond
	histMin     = time.Microsecond // shorter durations count as this
	histMax     = time.Hour        // longer ones count as this
	histBuckets = 2345             // bucketOf(histMax)+1; a test checks it
)

// bucketOf is the bucket of v nanoseconds.
func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	s := bits.Len64(v) - (histSubBits + 1) // v>>s is in [64, 128)
	return histLinear + (s-1)<<histSubBits + int(v>>s) - 1<<histSubBits
}

// bucketRange is the lower bound and width, in nanoseconds, of bucket i.
func bucketRange(i int) (lower, width uint64) {
	if i < histLinear {
		return uint64(i), 1
	}
	s := (i-histLinear)>>histSubBits + 1
	m := uint64((i-histLinear)&(1<<histSubBits-1) + 1<<histSubBits)
	return m << s, 1 << s
}

// add counts one duration.
func (h *latencyHist) add(d time.Duration) {
	d = min(max(d, histMin), histMax)
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if h.n == 0 || d > h.max {
		h.max = d
	}
	h.n++
}

// quantile is the duration at quantile p (0 ≤ p ≤ 1): the one at 0-based rank
// round((n-1)·p) in sorted order, within 0.8%. 0 when nothing was counted.
func (h *latencyHist) quantile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(float64(h.n-1)*p + 0.5)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen > rank {
			lower, width := bucketRange(i)
			mid := time.Duration(lower + width/2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}
