//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// majMinRE is a device number as the kernel writes it: "254:0".
var majMinRE = regexp.MustCompile(`^[0-9]+:[0-9]+$`)

// virtualPrefixes are the names of block devices that are never real
// disks: throttling them would throttle a disk twice, or nothing.
var virtualPrefixes = []string{"loop", "ram", "zram"}

// ioDevices returns the "MAJ:MIN" of the disks IO limits throttle: those
// named in spec, or, for a nil spec, every whole disk in /sys/block that is
// not virtual. A partition stands for its disk: the kernel refuses to
// throttle a partition.
func (m *Manager) ioDevices(spec []string) ([]string, error) {
	var out []string
	add := func(dev string) {
		if !slices.Contains(out, dev) {
			out = append(out, dev)
		}
	}
	if spec == nil {
		sysBlock := m.path("/sys/block")
		entries, err := os.ReadDir(sysBlock)
		if err != nil {
			return nil, nil // no /sys/block: nothing to throttle, Open notes it
		}
		for _, e := range entries {
			name := e.Name()
			if slices.ContainsFunc(virtualPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
				continue
			}
			if target, err := os.Readlink(filepath.Join(sysBlock, name)); err == nil &&
				strings.Contains(target, "/devices/virtual/") {
				continue
			}
			dev, err := readDev(filepath.Join(sysBlock, name))
			if err != nil {
				continue
			}
			add(dev)
		}
		return out, nil
	}
	for _, s := range spec {
		var dir string
		if majMinRE.MatchString(s) {
			dir = m.path("/sys/dev/block/" + s)
		} else if validName(s) {
			dir = m.path("/sys/class/block/" + s)
		} else {
			return nil, fmt.Errorf("IO device %q is neither MAJ:MIN nor a block device name such as vda or sda1", s)
		}
		dev, err := wholeDisk(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("IO device %q: no such block device (see /sys/class/block, or lsblk)", s)
		}
		if err != nil {
			return nil, fmt.Errorf("IO device %q: %w", s, err)
		}
		add(dev)
	}
	return out, nil
}

// wholeDisk returns the device number of the disk that the block device
// whose sysfs directory is dir belongs to: dir's own for a disk, its
// parent's for a partition.
func wholeDisk(dir string) (string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if exists(filepath.Join(real, "partition")) {
		real = filepath.Dir(real)
	}
	return readDev(real)
}

// readDev returns the "MAJ:MIN" in a block device's sysfs dev file.
func readDev(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "dev"))
	if err != nil {
		return "", err
	}
	dev := strings.TrimSpace(string(data))
	if !majMinRE.MatchString(dev) {
		return "", fmt.Errorf("%s/dev holds %q, not MAJ:MIN", dir, dev)
	}
	return dev, nil
}
