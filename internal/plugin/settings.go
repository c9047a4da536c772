package plugin

import (
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"slices"
	"sync"
)

// BuildSetting is a build setting that changes the code the Go toolchain produces: a plugin built
// with another value than the gateway's compiles the packages they share differently, and the Go
// runtime refuses it.
type BuildSetting struct {
	// Key is the setting's key in a binary's build information (debug.BuildSetting.Key), which
	// is also the go build flag or the environment variable that sets it.
	Key string
	// Flag is true for a go build flag (-race, -tags), false for an environment variable
	// (CGO_ENABLED, GOAMD64).
	Flag bool
	// Bool is true for a flag without a value: the build information says "true" when it is set.
	Bool bool
	// Archs are, for a variable that tunes one architecture (GOAMD64), the GOARCH values it
	// applies to; empty means every architecture.
	Archs []string
}

// BuildSettings are the build settings a plugin must share with the gateway. Everything that
// copies or compares build settings derives from this list: the plugin compiler's flags and
// environment (CodeFlags), the pre-flight check, the gateway's fingerprint, the builds of test
// plugins and `gatehouse version`.
//
// Left out on purpose: -ldflags (link-time only, and copying -s or -w would strip the symbols
// the pre-flight check reads); -cover (it instruments only the packages selected for coverage,
// which the build information does not record: copying it would instrument packages the gateway
// has plain); -buildmode and -compiler; GOOS and GOARCH (the target, checked on its own).
var BuildSettings = []BuildSetting{
	{Key: "-trimpath", Flag: true, Bool: true},
	{Key: "-race", Flag: true, Bool: true},
	{Key: "-msan", Flag: true, Bool: true},
	{Key: "-asan", Flag: true, Bool: true},
	{Key: "-tags", Flag: true},
	{Key: "-gcflags", Flag: true},
	{Key: "-asmflags", Flag: true},
	{Key: "CGO_ENABLED"},
	{Key: "GOEXPERIMENT"},
	{Key: "GOFIPS140"},
	{Key: "GOAMD64", Archs: []string{"amd64"}},
	{Key: "GOARM64", Archs: []string{"arm64"}},
	{Key: "GOARM", Archs: []string{"arm"}},
	{Key: "GO386", Archs: []string{"386"}},
	{Key: "GOPPC64", Archs: []string{"ppc64", "ppc64le"}},
	{Key: "GORISCV64", Archs: []string{"riscv64"}},
}

// value returns the setting's value in settings, with a flag without value as "true" or "false".
func (s BuildSetting) value(settings map[string]string) string {
	v := settings[s.Key]
	if s.Bool && v != "true" {
		return "false"
	}
	return v
}

// CodeFlags returns the go build flags and environment that give a build for goarch the
// BuildSettings of a binary, as its build information records them (see SettingMap).
func CodeFlags(settings map[string]string, goarch string) (flags, env []string) {
	for _, s := range BuildSettings {
		v := settings[s.Key]
		if v == "" || (len(s.Archs) > 0 && !slices.Contains(s.Archs, goarch)) {
			continue
		}
		switch {
		case s.Bool:
			if v == "true" {
				flags = append(flags, s.Key)
			}
		case s.Flag:
			flags = append(flags, s.Key+"="+v)
		default:
			env = append(env, s.Key+"="+v)
		}
	}
	return flags, env
}

// IsCodeEnv reports whether key is an environment variable among BuildSettings.
func IsCodeEnv(key string) bool {
	for _, s := range BuildSettings {
		if !s.Flag && s.Key == key {
			return true
		}
	}
	return false
}

// SettingMap returns build settings by key.
func SettingMap(s []debug.BuildSetting) map[string]string {
	m := make(map[string]string, len(s))
	for _, kv := range s {
		m[kv.Key] = kv.Value
	}
	return m
}

var hostInfo = sync.OnceValue(func() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
})

// HostBuildInfo returns the running binary's build information, nil when it has none.
func HostBuildInfo() *debug.BuildInfo { return hostInfo() }

// HostSettings returns the running binary's build settings by key, nil when it has no build
// information.
func HostSettings() map[string]string {
	if info := hostInfo(); info != nil {
		return SettingMap(info.Settings)
	}
	return nil
}

// RaceMapping returns the go build flags that ask the dynamic loader to map a plugin built for a
// gateway under the race detector (linux/amd64, -race in settings) low, at one of 2,560 places
// 256 MiB apart between 64 and 704 GiB chosen by slot; none for any other build. The detector keeps
// the code addresses of what goroutines did in 44 bits and restores them only within the Go
// binary's range, which starts low; code at the top of the address space, where the kernel maps
// a shared object by default, cannot be restored, and the detector dies ("failed to restore
// address") instead of printing a race whose goroutine had run plugin code. The address is a
// hint the loader follows when it is free: a plugin it cannot put there (two plugins of the
// same slot, or one larger than 256 MiB and its neighbour) goes where the kernel puts it. The code itself is the same wherever it is mapped.
func RaceMapping(settings map[string]string, goos, goarch string, slot uint64) []string {
	if settings["-race"] != "true" || goos != "linux" || goarch != "amd64" {
		return nil
	}
	base := uint64(0x10_0000_0000) + (slot%raceSlots)*0x1000_0000
	return []string{fmt.Sprintf("-ldflags=-extldflags=-Wl,-Ttext-segment=%#x", base)}
}

// NamedSlot is the RaceMapping slot of a plugin the compiler builds, by its plugin path (which
// no two plugins loaded in one process share): one of the upper half, the lower being for the
// test plugins, which number theirs from 0.
func NamedSlot(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return raceSlots/2 + h.Sum64()%(raceSlots/2)
}

// raceSlots are RaceMapping's places: from 64 GiB up to 704 GiB, below the Go heap's arenas
// (768 GiB on amd64).
const raceSlots = 2560
