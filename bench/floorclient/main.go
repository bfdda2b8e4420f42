// Command floorclient is the floor for rw's client commands: the least a Go
// program does to send one authenticated request to rw's API over mutual
// TLS 1.3 and print the answer. It uses the standard library alone, so its
// start-up is what any Go client pays; rw start and rw ls are measured
// against it (see docs/PERFORMANCE.md).
//
//	floorclient -cert C -key K -ca CA -token T [-body JSON] URL
//
// With -body the request is a POST of that body, else a GET.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	caFile := flag.String("ca", "", "server CA (PEM)")
	tokenFile := flag.String("token", "", "file holding the bearer token")
	body := flag.String("body", "", "JSON body to POST; without it the request is a GET")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "floorclient: error: give one URL")
		os.Exit(2)
	}
	if err := request(*certFile, *keyFile, *caFile, *tokenFile, *body, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "floorclient: error: %v\n", err)
		os.Exit(1)
	}
}

func request(certFile, keyFile, caFile, tokenFile, body, url string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", caFile)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		// What rw's client offers: TLS 1.3 only.
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
	}}}
	method, reader := http.MethodGet, io.Reader(nil)
	if body != "" {
		method, reader = http.MethodPost, bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
