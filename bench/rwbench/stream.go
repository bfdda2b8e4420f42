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
	bearer, _ := e.bearer()
	return exec.Command("curl", "-sS", "-N", "--fail", "-o", "/dev/null",
		"--cacert", e.ca, "--cert", e.cert, "--key", e.key, "-H", "Authorization: "+bearer, url)
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

// streaming compares one job followed live, by curl -N and by rw logs -f,
// and several in a row, with the floor server streaming the same child, and
// watches rw serve's memory meanwhile.
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
	for _, logs := range []bool{false, true} {
		// The median of a few, the floor's and rw's in turn: one stream
		// alone varies by 2x on a shared machine.
		var rwTimes, floorTimes []time.Duration
		for range b.sz.streamRuns {
			floor, err := b.followFloor(size)
			if err != nil {
				rss.end()
				return err
			}
			rw, err := b.followRW(ctx, size, logs)
			if err != nil {
				rss.end()
				return err
			}
			rwTimes, floorTimes = append(rwTimes, rw), append(floorTimes, floor)
		}
		how := "curl -N"
		if logs {
			how = "rw logs -f"
		}
		rwRate, floorRate := float64(size)/median(rwTimes).Seconds(), float64(size)/median(floorTimes).Seconds()
		b.add(ratioAtLeast(fmt.Sprintf("one %s job followed live (%s) vs child-to-HTTPS server (median of %d)", sizeName(size), how, b.sz.streamRuns),
			mbps(rwRate), mbps(floorRate), rwRate/floorRate, 0.9))
	}
	var rwTime, floorTime time.Duration
	for range b.sz.streamRow {
		floor, err := b.followFloor(size)
		if err != nil {
			rss.end()
			return err
		}
		rw, err := b.followRW(ctx, size, true)
		if err != nil {
			rss.end()
			return err
		}
		rwTime += rw
		floorTime += floor
	}
	peak := rss.end()
	total := float64(size) * float64(b.sz.streamRow)
	rwRate, floorRate := total/rwTime.Seconds(), total/floorTime.Seconds()
	b.add(ratioAtLeast(fmt.Sprintf("%d %s jobs in a row (rw logs -f), sustained", b.sz.streamRow, sizeName(size)),
		mbps(rwRate), mbps(floorRate), rwRate/floorRate, 0.8))
	b.add(row{"rw serve RSS: before the streams -> peak during them", mib(before) + " -> " + mib(peak), "-", float64(peak) / float64(before),
		"flat (peak <= before + 16 MiB)", yesNo(peak-before <= 16<<10)})
	return nil
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
