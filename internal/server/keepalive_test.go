//go:build linux

package server_test

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rw-project/rw/internal/testenv"
	"github.com/rw-project/rw/internal/worker"
	"github.com/rw-project/rw/pki"
)

// TestOneConnectionAnswersWhatChanges sends every request over one
// keep-alive connection, where the server remembers the connection's last
// token and the snapshots of ended jobs read lately, and checks that what
// changes between requests is answered as it is now: another token of
// the same certificate, a bad one, another user's, and a job queried,
// removed and queried again (404).
func TestOneConnectionAnswersWhatChanges(t *testing.T) {
	s := testenv.Serve(t, worker.Config{})
	alice, bob := s.IDs["alice"], s.IDs["bob"]
	id := s.StartJob(t, alice, "add.exe", "8", "10")
	s.Wait(t, id)
	second, err := pki.IssueToken(s.TokenKey, alice.Leaf(), time.Now().Add(-time.Second), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// One character of the signature changed.
	forged := []byte(alice.Token)
	if i := len(forged) - 10; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	client := s.Client(t, alice)
	requests := 0
	call := func(method, path, body, token string) int {
		t.Helper()
		req, err := http.NewRequest(method, "https://"+s.Addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		reused := false
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			t.Fatalf("%s %s: read: %v", method, path, err)
		}
		if requests > 0 && !reused {
			t.Fatalf("%s %s went over a new connection: the test checks nothing of the connection's memory", method, path)
		}
		requests++
		return resp.StatusCode
	}
	query := "/query?id=" + strconv.FormatInt(id, 10)
	for _, c := range []struct {
		name, method, path, body, token string
		want                            int
	}{
		{"query", "GET", query, "", alice.Token, http.StatusOK},
		{"query again", "GET", query, "", alice.Token, http.StatusOK},
		{"another token of the certificate", "GET", query, "", second, http.StatusOK},
		{"a token with its signature changed", "GET", query, "", string(forged), http.StatusUnauthorized},
		{"another user's token", "GET", query, "", bob.Token, http.StatusUnauthorized},
		{"the first token again", "GET", query, "", alice.Token, http.StatusOK},
		{"remove", "POST", "/remove", `{"id": ` + strconv.FormatInt(id, 10) + `}`, alice.Token, http.StatusOK},
		{"query after remove", "GET", query, "", alice.Token, http.StatusNotFound},
		{"query after remove, again", "GET", query, "", second, http.StatusNotFound},
	} {
		if got := call(c.method, c.path, c.body, c.token); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
