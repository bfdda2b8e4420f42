//go:build linux

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rw-project/rw/internal/api"
	"github.com/rw-project/rw/internal/server"
	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
)

// metricValue returns the value of the sample of family name whose labels
// include want, or -1.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func parseMetrics(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse the metrics: %v\n%s", err, body)
	}
	return families
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsAndHealth scrapes a real server after a few jobs, through the
// API and through the local listener, and reads its health.
func TestMetricsAndHealth(t *testing.T) {
	local := freeAddr(t)
	s := testenv.Serve(t, worker.Config{StopTimeout: 5 * time.Second}, func(c *server.RunConfig) {
		c.MetricsAddr = local
		c.Version = "v9.9.9"
	})
	alice, bob := s.IDs["alice"], s.IDs["bob"]
	monitor := s.Issue(t, "prom", "monitor")
	s.Wait(t, s.StartJob(t, alice, "add.exe", "1", "2"))
	s.Wait(t, s.StartJob(t, bob, "exit3.sh"))
	stopped := s.StartJob(t, bob, "sleep.sh")
	waitOutput(t, s, stopped, "ready\n")
	if r := s.Call(t, bob, "POST", "/stop", fmt.Sprintf(`{"id": %d}`, stopped)); r.Status != 200 {
		t.Fatalf("stop: %d %s", r.Status, r.Body)
	}
	s.Call(t, alice, "GET", "/query", "", "") // no token

	if r := s.Call(t, bob, "GET", "/metrics", ""); r.Status != http.StatusForbidden {
		t.Errorf("a user's scrape: %d, want 403", r.Status)
	}
	r := s.Call(t, monitor, "GET", "/metrics", "")
	if r.Status != 200 {
		t.Fatalf("the monitor's scrape: %d %s", r.Status, r.Body)
	}
	families := parseMetrics(t, r.Body)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rw_job_starts_total", nil, 3},
		{"rw_job_ends_total", map[string]string{"reason": "exited"}, 2},
		{"rw_job_ends_total", map[string]string{"reason": "stopped"}, 1},
		{"rw_job_start_seconds", nil, 3},
		{"rw_job_run_seconds", nil, 3},
		{"rw_jobs", map[string]string{"status": "running"}, 0},
		// Three tokens (alice's, bob's, the monitor's), each verified in
		// full once, from the cache after.
		{"rw_token_verifications_total", map[string]string{"source": "verified"}, 3},
		{"rw_queue_capacity", nil, worker.DefaultQueueSize},
		{"rw_http_requests_total", map[string]string{"endpoint": "/start", "code": "200"}, 3},
		{"rw_http_requests_total", map[string]string{"endpoint": "/metrics", "code": "403"}, 1},
		{"rw_auth_failures_total", map[string]string{"reason": "no_token"}, 1},
		// "3\n" from add.exe, "failing\n" from exit3.sh, "ready\n" from sleep.sh.
		{"rw_output_written_bytes_total", nil, 2 + 8 + 6},
	} {
		if got := metricValue(families, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Each call of the test keeps its connection open: at least the
	// monitor's own is.
	if got := metricValue(families, "rw_connections", nil); got < 1 {
		t.Errorf("rw_connections = %v, want the open ones, at least 1", got)
	}
	if metricValue(families, "rw_store_bytes", nil) <= 0 || metricValue(families, "go_goroutines", nil) <= 0 || metricValue(families, "process_resident_memory_bytes", nil) <= 0 {
		t.Errorf("the store, Go and process metrics are missing")
	}

	// Health, through the API and on the local listener.
	var h api.Health
	r = s.Call(t, bob, "GET", "/healthz", "")
	r.Decode(t, &h)
	if r.Status != 200 || h.Status != "ok" || h.Version != "v9.9.9" || h.Uptime == "" {
		t.Errorf("health through the API: %d %s", r.Status, r.Body)
	}
	resp, err := http.Get("http://" + local + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h.Status != "ok" {
		t.Errorf("health on the local listener: %d %+v", resp.StatusCode, h)
	}
	resp, err = http.Get("http://" + local + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("metrics on the local listener: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + local + "/query"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the local listener serves /query: %d", resp.StatusCode)
		}
	}

	// While the jobs stop, health says so.
	slow := s.StartJob(t, alice, "ignore.sh")
	waitOutput(t, s, slow, "ignoring\n")
	s.Signal()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + local + "/healthz")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && h.Status == "shutting_down" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("health during the shutdown: %v %+v, want 503 shutting_down", err, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.SignalAgain(t)
}
