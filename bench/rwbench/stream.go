//go:build linux

package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// curl returns curl fetching url with the harness's identity, streaming
// (-N) into /dev/null.
func (e *env) curl(url string) *exec.Cmd {
	return exec.Command("curl", "-sS", "-N", "--fail", "-o", "/dev/null",
		"--cacert", e.ca, "--cert", e.cert, "--key", e.key, "-H", "Authorization: "+e.authorization, url)
}

// followRW starts one zeros.sh job of size bytes on the main server and
// follows it to its end with curl -N (or, with logs, rw logs -f), then
// removes it so that the data directory does not fill. It returns the time
// from the start request to the last byte.
func (b *bench) followRW(ctx context.Context, size int64, logs bool) (time.Duration, error) {
	e := b.env
	t0 := time.Now()
	out, err := e.rw(ctx, "start", "zeros.sh", strconv.FormatInt(size, 10))
	if err != nil {
		return 0, err
	}
	id := strings.TrimSpace(string(out))
	var cmd *exec.Cmd
	if logs {
		cmd = b.rwCmd("logs", "-f", id)()
	} else {
		cmd = e.curl(fmt.Sprintf("https://%s/logs?id=%s&follow=true", b.main.addr, id))
	}
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("follow job %s: %w", id, err)
	}
	d := time.Since(t0)
	_, err = e.rw(ctx, "rm", id)
	return d, err
}

// followFloor streams size bytes from a child through the floor server.
func (b *bench) followFloor(size int64) (time.Duration, error) {
	t0 := time.Now()
	if err := b.env.curl(fmt.Sprintf("https://%s/stream?size=%d", b.plain.addr, size)).Run(); err != nil {
		return 0, fmt.Errorf("stream from the floor server: %w", err)
	}
	return time.Since(t0), nil
}

// streaming compares one job followed live by curl -N, one followed by rw
// logs -f, and several followed by rw logs -f in a row, with the floor
// server streaming the same child (each of rw's streams right after one of
// the floor's, so that both meet the same noise), and watches rw serve's
// memory meanwhile. The single jobs' figures are medians: one stream alone
// varies by 2x on a shared machine. The rw logs -f median is taken from the
// streams in a row, which keeps a full run within ten minutes.
func (b *bench) streaming(ctx context.Context) error {
	if _, err := exec.LookPath("curl"); err != nil {
		b.add(row{"streaming", "skipped: no curl", "-", 0, "-", "-"})
		return nil
	}
	size := b.sz.streamBytes
	pid := b.main.cmd.Process.Pid
	before, err := procStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	rss := sampleRSS(pid)
	curlRW, curlFloor, err := b.streamPairs(ctx, b.sz.streamRuns, false)
	if err != nil {
		rss.end()
		return err
	}
	logsRW, logsFloor, err := b.streamPairs(ctx, b.sz.streamRow, true)
	peak := rss.end()
	if err != nil {
		return err
	}
	rate := func(n int, d time.Duration) float64 { return float64(size) * float64(n) / d.Seconds() }
	rw, floor := rate(1, median(curlRW)), rate(1, median(curlFloor))
	b.add(ratioAtLeast(fmt.Sprintf("one %s job followed live (curl -N) vs child-to-HTTPS server (median of %d)", sizeName(size), len(curlRW)),
		mbps(rw), mbps(floor), rw/floor, 0.9))
	rw, floor = rate(1, median(logsRW)), rate(1, median(logsFloor))
	b.add(ratioAtLeast(fmt.Sprintf("one %s job followed live (rw logs -f) vs child-to-HTTPS server (median of %d)", sizeName(size), len(logsRW)),
		mbps(rw), mbps(floor), rw/floor, 0.9))
	rw, floor = rate(len(logsRW), sum(logsRW)), rate(len(logsFloor), sum(logsFloor))
	b.add(ratioAtLeast(fmt.Sprintf("%d %s jobs in a row (rw logs -f), sustained", len(logsRW), sizeName(size)),
		mbps(rw), mbps(floor), rw/floor, 0.8))
	b.add(row{"rw serve RSS: before the streams -> peak during them", mib(before) + " -> " + mib(peak), "-", float64(peak) / float64(before),
		"flat (peak <= before + 16 MiB)", yesNo(peak-before <= 16<<10)})
	return nil
}

// streamPairs streams n jobs from the floor server and from rw in turn, rw's
// followed by rw logs -f if logs, else by curl -N, and returns the times.
func (b *bench) streamPairs(ctx context.Context, n int, logs bool) (rw, floor []time.Duration, err error) {
	for range n {
		f, err := b.followFloor(b.sz.streamBytes)
		if err != nil {
			return nil, nil, err
		}
		r, err := b.followRW(ctx, b.sz.streamBytes, logs)
		if err != nil {
			return nil, nil, err
		}
		rw, floor = append(rw, r), append(floor, f)
	}
	return rw, floor, nil
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
