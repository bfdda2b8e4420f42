//go:build linux

package server

import (
	"testing"
	"time"

	"github.com/rw-project/rw/internal/worker"
)

// TestObserveRequestCountsThroughItsChildren checks the counts of
// requests, and of their durations, made through the children
// observeRequest keeps, and that it keeps one per endpoint and code.
func TestObserveRequestCountsThroughItsChildren(t *testing.T) {
	m := NewMetrics(func() worker.Stats { return worker.Stats{} })
	for _, o := range []struct {
		endpoint string
		code     int
		times    int
	}{{"/query", 200, 3}, {"/query", 404, 1}, {"other", 404, 2}, {"/query", 200, 2}} {
		for range o.times {
			m.observeRequest(o.endpoint, o.code, time.Millisecond)
		}
	}
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			key := f.GetName()
			for _, l := range metric.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case metric.GetCounter() != nil:
				got[key] = metric.GetCounter().GetValue()
			case metric.GetHistogram() != nil:
				got[key] = float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"rw_http_requests_total code=200 endpoint=/query":  5,
		"rw_http_requests_total code=404 endpoint=/query":  1,
		"rw_http_requests_total code=404 endpoint=other":   2,
		"rw_http_request_duration_seconds endpoint=/query": 6,
		"rw_http_request_duration_seconds endpoint=other":  2,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if n := len(m.byRequest); n != 3 {
		t.Errorf("observeRequest keeps %d children, want 3: one per endpoint and code", n)
	}
}
