package prom

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The go_* and process_* families carry the names, types and meanings of client_golang's Go
// runtime and process collectors (its defaults), so that dashboards built on them keep working.

// goGauge is a go_* family read from one runtime/metrics sample, or the sum of several.
type goGauge struct {
	name, help, kind string
	samples          []string
}

var goGauges = []goGauge{
	{"go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", "gauge", []string{"/gc/gogc:percent"}},
	{"go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", "gauge", []string{"/gc/gomemlimit:bytes"}},
	{"go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", "gauge", []string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", "counter", []string{"/gc/heap/allocs:bytes"}},
	{"go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", "gauge", []string{"/memory/classes/profiling/buckets:bytes"}},
	{"go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", "counter", []string{"/gc/heap/frees:objects", "/gc/heap/tiny/allocs:objects"}},
	{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", "gauge", []string{"/memory/classes/metadata/other:bytes"}},
	{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", "gauge", []string{"/memory/classes/heap/objects:bytes"}},
	{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", "gauge", []string{"/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", "gauge", []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}},
	{"go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", "gauge", []string{"/gc/heap/objects:objects"}},
	{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", "gauge", []string{"/memory/classes/heap/released:bytes"}},
	{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", "gauge", []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/released:bytes", "/memory/classes/heap/free:bytes"}},
	// go_memstats_last_gc_time_seconds is written from debug.ReadGCStats, with the pauses.
	{"go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", "counter", []string{"/gc/heap/allocs:objects", "/gc/heap/tiny/allocs:objects"}},
	{"go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", "gauge", []string{"/memory/classes/metadata/mcache/inuse:bytes"}},
	{"go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", "gauge", []string{"/memory/classes/metadata/mcache/inuse:bytes", "/memory/classes/metadata/mcache/free:bytes"}},
	{"go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", "gauge", []string{"/memory/classes/metadata/mspan/inuse:bytes"}},
	{"go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", "gauge", []string{"/memory/classes/metadata/mspan/inuse:bytes", "/memory/classes/metadata/mspan/free:bytes"}},
	{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", "gauge", []string{"/gc/heap/goal:bytes"}},
	{"go_memstats_other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", "gauge", []string{"/memory/classes/other:bytes"}},
	{"go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", "gauge", []string{"/memory/classes/heap/stacks:bytes"}},
	{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", "gauge", []string{"/memory/classes/heap/stacks:bytes", "/memory/classes/os-stacks:bytes"}},
	{"go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", "gauge", []string{"/memory/classes/total:bytes"}},
	{"go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", "gauge", []string{"/sched/gomaxprocs:threads"}},
}

// goSampleIndex maps each runtime/metrics name goGauges read to its place in a sample slice.
var goSampleNames, goSampleIndex = func() ([]string, map[string]int) {
	idx := map[string]int{}
	var names []string
	for _, g := range goGauges {
		for _, s := range g.samples {
			if _, ok := idx[s]; !ok {
				idx[s] = len(names)
				names = append(names, s)
			}
		}
	}
	return names, idx
}()

// appendGo appends the go_* families, sorted by name.
func appendGo(b []byte) []byte {
	samples := make([]metrics.Sample, len(goSampleNames))
	for i, n := range goSampleNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	var gc debug.GCStats
	gc.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)
	lastGC := 0.0 // before the first collection, as client_golang wrote it
	if !gc.LastGC.IsZero() {
		lastGC = float64(gc.LastGC.UnixNano()) / 1e9
	}

	type fam struct {
		name string
		add  func(b []byte) []byte
	}
	one := func(name, help, kind string, v float64) fam {
		return fam{name, func(b []byte) []byte { return sample(header(b, name, help, kind), name, nil, nil, "", v) }}
	}
	fams := []fam{
		{"go_gc_duration_seconds", func(b []byte) []byte {
			const name = "go_gc_duration_seconds"
			b = header(b, name, "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", "summary")
			for i, q := range []string{`quantile="0"`, `quantile="0.25"`, `quantile="0.5"`, `quantile="0.75"`, `quantile="1"`} {
				b = sample(b, name, nil, nil, q, gc.PauseQuantiles[i].Seconds())
			}
			b = sample(b, name+"_sum", nil, nil, "", gc.PauseTotal.Seconds())
			return sample(b, name+"_count", nil, nil, "", float64(gc.NumGC))
		}},
		one("go_goroutines", "Number of goroutines that currently exist.", "gauge", float64(runtime.NumGoroutine())),
		{"go_info", func(b []byte) []byte {
			b = header(b, "go_info", "Information about the Go environment.", "gauge")
			return sample(b, "go_info", nil, nil, `version="`+string(appendEscaped(nil, runtime.Version(), true))+`"`, 1)
		}},
		one("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", "gauge", lastGC),
		one("go_threads", "Number of OS threads created.", "gauge", float64(threads)),
	}
	for _, g := range goGauges {
		var v float64
		for _, s := range g.samples {
			v += sampleValue(samples[goSampleIndex[s]].Value)
		}
		fams = append(fams, one(g.name, g.help, g.kind, v))
	}
	slices.SortFunc(fams, func(a, b fam) int { return strings.Compare(a.name, b.name) })
	for _, f := range fams {
		b = f.add(b)
	}
	return b
}

func sampleValue(v metrics.Value) float64 {
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	return 0 // a name this Go does not have
}

// appendProcess appends the process_* families, read from /proc. A file that cannot be read
// leaves its families out (client_golang's collector answered the whole scrape with an error).
func appendProcess(b []byte) []byte {
	one := func(b []byte, name, help, kind string, v float64) []byte {
		return sample(header(b, name, help, kind), name, nil, nil, "", v)
	}
	st, stOK := readStat()
	if stOK {
		b = one(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", st.cpu)
	}
	lim, limOK := readLimits()
	if limOK {
		b = one(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge", lim.fds)
	}
	if rx, tx, ok := readNetstat(); ok {
		b = one(b, "process_network_receive_bytes_total", "Number of bytes received by the process over the network.", "counter", rx)
		b = one(b, "process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", "counter", tx)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		// ReadDir's own descriptor was closed before it returned.
		b = one(b, "process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	if stOK {
		b = one(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", st.rss)
		if st.start > 0 {
			b = one(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", st.start)
		}
		b = one(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", st.vsize)
	}
	if limOK {
		b = one(b, "process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", "gauge", lim.as)
	}
	return b
}

// userHZ is the unit of /proc's CPU times: 100 on every Linux Go supports (sysconf(_SC_CLK_TCK)).
const userHZ = 100

type procStat struct{ cpu, rss, vsize, start float64 }

// readStat reads /proc/self/stat (and /proc/stat's boot time for the start time).
func readStat() (procStat, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name, in parentheses, may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(field int) float64 {
		v, _ := strconv.ParseUint(f[field-3], 10, 64)
		return float64(v)
	}
	s := procStat{
		cpu:   (num(14) + num(15)) / userHZ,
		vsize: num(23),
		rss:   num(24) * float64(os.Getpagesize()),
	}
	if boot, ok := bootTime(); ok {
		s.start = boot + num(22)/userHZ
	}
	return s, true
}

func bootTime() (float64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return float64(n), err == nil
		}
	}
	return 0, false
}

type procLimits struct{ fds, as float64 }

// readLimits reads the soft limits of open files and address space from /proc/self/limits.
func readLimits() (procLimits, bool) {
	data, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return procLimits{}, false
	}
	var l procLimits
	found := 0
	for line := range strings.Lines(string(data)) {
		var dst *float64
		var rest string
		if r, ok := strings.CutPrefix(line, "Max open files"); ok {
			dst, rest = &l.fds, r
		} else if r, ok := strings.CutPrefix(line, "Max address space"); ok {
			dst, rest = &l.as, r
		} else {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return procLimits{}, false
		}
		if f[0] == "unlimited" {
			*dst = math.MaxUint64
		} else if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			*dst = float64(v)
		} else {
			return procLimits{}, false
		}
		found++
	}
	return l, found == 2
}

// readNetstat reads the IP bytes received and sent in the process's network namespace
// (IpExt InOctets and OutOctets of /proc/self/net/netstat), as client_golang does.
func readNetstat() (rx, tx float64, ok bool) {
	data, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, false
	}
	var names []string
	for line := range strings.Lines(string(data)) {
		rest, isIP := strings.CutPrefix(line, "IpExt:")
		if !isIP {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				continue
			}
			switch n {
			case "InOctets":
				rx, ok = float64(v), true
			case "OutOctets":
				tx = float64(v)
			}
		}
		return rx, tx, ok
	}
	return 0, 0, false
}
