//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rw-project/rw/pki"
)

// floorJob is what the floor server answers to GET /query: a job of the
// size rw answers for GET /query?id=N of an ended add.exe job (every field
// of api.Job that such a job sends, the omitempty ones it leaves out left
// out, and usage as a job in a cgroup has it), so that both servers write
// about as many bytes.
const floorJob = `{"id":1,"owner":"alice","filePath":"add.exe","args":["8","10"],"status":"finished","exitCode":0,"reason":"exited",` +
	`"output":"18\n","outputTruncated":false,"createdAt":"2026-11-28T21:00:00.108213787Z","startedAt":"2026-11-28T21:00:00.112015335Z",` +
	`"endedAt":"2026-11-28T21:00:00.138414561Z","limits":{"memoryBytes":0,"cpus":0,"pids":0,"ioReadBytesPerSec":0,"ioWriteBytesPerSec":0},` +
	`"isolated":false,"usage":{"cpuSeconds":0.001532,"memoryPeakBytes":1216512}}` + "\n"

// serveMain runs the floor server until ctx ends: rw's TLS configuration
// from a PKI directory, HTTP/1.1 keep-alive, and with -verify the ES256
// verification of the bearer token against the client certificate that rw
// does (without rw's cache of verified tokens). GET /stream?size=N runs
// JOBS/zeros.sh N and copies its output to the response as it comes: the
// floor for following a job live.
func serveMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("pki", "", "PKI directory made by rw gen-certs")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	verify := fs.Bool("verify", false, "verify every request's ES256 token")
	jobs := fs.String("jobs-dir", "", "directory holding zeros.sh, for /stream")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := pki.LoadServerTLS(*dir)
	if err != nil {
		return err
	}
	var pub *ecdsa.PublicKey
	if *verify {
		if pub, err = pki.ReadPublicKey(filepath.Join(*dir, pki.TokenPub)); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /query", func(w http.ResponseWriter, r *http.Request) {
		if pub != nil {
			raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || len(r.TLS.PeerCertificates) == 0 {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
			if _, err := pki.VerifyToken(raw, pub, r.TLS.PeerCertificates[0], time.Now()); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, floorJob)
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		streamChild(w, r, filepath.Join(*jobs, "zeros.sh"))
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The harness reads the address from the first line of stdout.
	fmt.Println(ln.Addr())
	hs := &http.Server{Handler: mux, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// streamChild runs script with the size asked for and copies its stdout to
// w, flushing after every read, as a bare server that streams a child would.
func streamChild(w http.ResponseWriter, r *http.Request, script string) {
	cmd := exec.CommandContext(r.Context(), script, r.URL.Query().Get("size"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := cmd.Start(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	rc := http.NewResponseController(w)
	buf := make([]byte, 256<<10)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
			rc.Flush()
		}
		if err != nil {
			break
		}
	}
	cmd.Wait()
}
