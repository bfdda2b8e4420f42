//go:build linux

package server

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/api"
)

// encodeJob is what writeJSON wrote for a job before appendJob.
func encodeJob(t *testing.T, j api.Job) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(j)
	return buf.Bytes(), err
}

func checkAppendJob(t *testing.T, name string, j api.Job) {
	t.Helper()
	want, err := encodeJob(t, j)
	got, ok := appendJob(nil, &j)
	switch {
	case err != nil && ok:
		t.Errorf("%s: encoding/json refuses the job (%v), appendJob wrote %s", name, err, got)
	case err == nil && !ok:
		t.Errorf("%s: appendJob refused a job encoding/json writes as %s", name, want)
	case err == nil && !bytes.Equal(got, want):
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestAppendJobMatchesEncodingJSON checks appendJob against encoding/json
// on jobs with every field set (by reflection, so that a field added to
// api.Job and not to appendJob fails here), on the edge cases of strings,
// numbers and times, and on random jobs.
func TestAppendJobMatchesEncodingJSON(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem())
	if out, _ := encodeJob(t, full); bytes.Contains(out, []byte(":null")) || bytes.Contains(out, []byte(`:""`)) {
		t.Fatalf("fill left a field empty: %s", out)
	}
	checkAppendJob(t, "every field set", full)
	checkAppendJob(t, "zero", api.Job{})
	checkAppendJob(t, "no args", api.Job{Args: []string{}})

	for _, s := range []string{"", "plain", `"quoted" \back\slash`, "<html> & </html>", "\x00\x01\x1f\x7f\b\f\n\r\t",
		"caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80 surrogate", strings.Repeat("é", 300)} {
		j := full
		j.Owner, j.Args, j.Error, j.Output = s, []string{s, s}, s, &s
		checkAppendJob(t, "string "+strconvQuote(s), j)
	}
	for _, f := range []float64{0, 0.5, 1, 2.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, -0.25, math.SmallestNonzeroFloat64,
		math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		j := full
		j.Limits.CPUs = f
		checkAppendJob(t, "cpus", j)
		j.Limits.CPUs = 1
		j.Usage = &api.Usage{CPUSeconds: &f}
		checkAppendJob(t, "cpu seconds", j)
	}
	east := time.FixedZone("east", 5*3600+30*60)
	for _, tm := range []time.Time{time.Time{}, time.Unix(0, 0).UTC(), time.Date(2026, 11, 28, 23, 59, 59, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, east), time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("far", 24*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		j := full
		j.CreatedAt = tm
		checkAppendJob(t, "created "+tm.String(), j)
		j.CreatedAt = full.CreatedAt
		j.EndedAt = &tm
		checkAppendJob(t, "ended "+tm.String(), j)
	}

	rng := rand.New(rand.NewPCG(13, 13))
	for i := range 2000 {
		var j api.Job
		randomize(rng, reflect.ValueOf(&j).Elem())
		checkAppendJob(t, "random job", j)
		if t.Failed() {
			t.Fatalf("random job %d failed", i)
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fill sets every field of v, recursively, to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 28, 12, 0, 0, 5000, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i))
		}
	case reflect.String:
		v.SetString("text")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(0.75)
	default:
		panic("fill: a field of kind " + v.Kind().String() + ": teach fill and appendJob about it")
	}
}

// randomize sets v, recursively, to random values: nil or not, empty or
// not, strings of random bytes, numbers of every size.
func randomize(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).UTC()))
			return
		}
		for i := range v.NumField() {
			randomize(rng, v.Field(i))
		}
	case reflect.Pointer:
		if rng.IntN(2) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomize(rng, v.Elem())
	case reflect.Slice:
		if rng.IntN(4) == 0 {
			v.SetZero()
			return
		}
		n := rng.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randomize(rng, v.Index(i))
		}
	case reflect.String:
		b := make([]byte, rng.IntN(12))
		for i := range b {
			switch rng.IntN(3) {
			case 0:
				b[i] = byte(rng.IntN(256))
			default:
				b[i] = byte(' ' + rng.IntN(95))
			}
		}
		v.SetString(string(b))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt(rng.Int64() >> rng.IntN(64))
	case reflect.Float64:
		v.SetFloat(math.Float64frombits(rng.Uint64()))
	default:
		panic("randomize: a field of kind " + v.Kind().String())
	}
}

// TestWriteJobAnswersAsEncodingJSON checks writeJob's answer, headers and
// body, for a job appendJob writes and for one it hands back to
// encoding/json.
func TestWriteJobAnswersAsEncodingJSON(t *testing.T) {
	var full api.Job
	fill(reflect.ValueOf(&full).Elem())
	refused := full
	refused.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, j := range map[string]api.Job{"written": full, "refused": refused} {
		want, _ := encodeJob(t, j)
		rec := httptest.NewRecorder()
		writeJob(rec, http.StatusCreated, j)
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff" || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: %d %v %q; want 201, JSON, nosniff, %q", name, rec.Code, rec.Header(), rec.Body, want)
		}
	}
}
