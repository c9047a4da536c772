package redis

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

// open returns a connected store on o, closed when the test ends.
func open(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := s.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func conformance(t *testing.T, o Options) {
	storagetest.Run(t, func(t *testing.T) (storage.Store, storagetest.Clock) {
		return open(t, o), storagetest.RealClock{}
	})
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	conformance(t, Options{Addrs: []string{srv.Addr}})
}

func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t, redistest.Options{Password: "master-secret"})
	sentinel := redistest.StartSentinel(t, master, "gatehouse-master", "sentinel-secret")
	conformance(t, Options{
		Addrs: []string{sentinel.Addr}, MasterName: sentinel.MasterName,
		SentinelPassword: "sentinel-secret", Password: "master-secret",
	})
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3)
	conformance(t, Options{Addrs: cluster.Addrs()[:1], Cluster: true})
}
