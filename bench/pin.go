package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// The pinned mode (--pinned, issue 15) measures each proxy alone on one core: the proxy under
// test on CPU 0 with GOMAXPROCS=1, and everything else (wrk, the upstream, redis-server and the
// benchmark itself) on CPU 1. On a shared machine the proxy then competes with nothing of the
// benchmark's own, and its throughput is what one core of it serves. Pinning uses taskset
// (util-linux), which execs the command in the same process, so the pid the benchmark reads CPU
// time and memory from is the command's.

const (
	proxyCPU = "0"
	loadCPU  = "1"
)

// cpuSet runs commands on a list of CPUs (taskset -c LIST), with GOMAXPROCS set when
// gomaxprocs > 0. The zero value runs them as they are.
type cpuSet struct {
	cpus       string
	gomaxprocs int
}

// pinnings returns where the proxies and the load go: nowhere in particular unless pinned.
func pinnings(pinned bool) (proxy, load cpuSet) {
	if !pinned {
		return cpuSet{}, cpuSet{}
	}
	return cpuSet{cpus: proxyCPU, gomaxprocs: 1}, cpuSet{cpus: loadCPU}
}

// command returns the program and arguments that run path with args on the set.
func (c cpuSet) command(path string, args ...string) (string, []string) {
	if c.cpus == "" {
		return path, args
	}
	pre := []string{"-c", c.cpus}
	if c.gomaxprocs > 0 {
		pre = append(pre, "env", "GOMAXPROCS="+strconv.Itoa(c.gomaxprocs))
	}
	return "taskset", append(append(pre, path), args...)
}

// checkPinning says why the pinned mode cannot run here, if it cannot.
func checkPinning() error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("--pinned needs taskset, which is not installed (it is in util-linux: apt-get install -y util-linux)")
	}
	if n := runtime.NumCPU(); n < 2 {
		return fmt.Errorf("--pinned needs CPUs %s and %s, and this process may run on %d CPU", proxyCPU, loadCPU, n)
	}
	return nil
}

// pinSelf moves every thread of the benchmark process to the load's CPUs, so that its own work
// (reading /proc, the reloads scenario's requests) stays off the proxy's core. Processes it
// starts afterwards inherit that, and are pinned explicitly anyway.
func pinSelf(load cpuSet) error {
	if load.cpus == "" {
		return nil
	}
	out, err := exec.Command("taskset", "-a", "-c", "-p", load.cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -c -p %s %d: %v: %s", load.cpus, os.Getpid(), err, out)
	}
	return nil
}
