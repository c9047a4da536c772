package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
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

// The latency mode's --realtime puts the processes of each constant-rate run (the proxy under
// test, the upstream and the benchmark itself, which generates the load) under SCHED_FIFO for
// the run's length, and back under SCHED_OTHER after it, so that on a machine other work shares
// they are not kept waiting by it: what wakes them (a request, an answer, the schedule's timer)
// runs them at once. wrk's runs, which keep a core busy, never run under it. The kernel's
// real-time throttling (sched_rt_runtime_us) still leaves other processes a share of each core.

// realtimePriority is the SCHED_FIFO priority of --realtime for the proxy and the upstream:
// the lowest. generatorPriority, the load generator's, is one above, so that on the load core,
// which it shares with the upstream, its timer's wake-up preempts the upstream at once instead
// of waiting for the upstream to block (SCHED_FIFO never preempts at one priority): the send
// happens on schedule, and what the upstream waits for is in both proxies' figures alike.
const (
	realtimePriority  = 1
	generatorPriority = realtimePriority + 1
)

// setRealtime puts every thread of each process under SCHED_FIFO at priority prio, or, with
// prio 0, back under SCHED_OTHER (chrt, util-linux).
func setRealtime(prio int, pids ...int) error {
	var errs []error
	for _, pid := range pids {
		args := []string{"-a", "-o", "-p", "0", strconv.Itoa(pid)}
		if prio > 0 {
			args = []string{"-a", "-f", "-p", strconv.Itoa(prio), strconv.Itoa(pid)}
		}
		if out, err := exec.Command("chrt", args...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("chrt %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// checkRealtime says why --realtime cannot run here, if it cannot: it needs chrt and the right
// to use SCHED_FIFO (root, or CAP_SYS_NICE), which it tries on itself.
func checkRealtime() error {
	if _, err := exec.LookPath("chrt"); err != nil {
		return errors.New("--realtime needs chrt, which is not installed (it is in util-linux: apt-get install -y util-linux)")
	}
	if err := setRealtime(generatorPriority, os.Getpid()); err != nil {
		return fmt.Errorf("--realtime needs the right to use SCHED_FIFO (root or CAP_SYS_NICE): %w", err)
	}
	return setRealtime(0, os.Getpid())
}
