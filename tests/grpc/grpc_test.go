// Package grpc_test runs real gRPC clients and servers (google.golang.org/grpc) through the
// gateway. It is a module of its own so that the gateway's module graph, which every plugin
// must match, never names gRPC: see README.md beside it.
package grpc_test

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// healthUpstream is a gRPC server with the standard health service, whose Check is a unary call
// and Watch a server-streaming one.
type healthUpstream struct {
	addr   string
	health *health.Server
	// step lets each message after the first of a Count stream go, so that a test sees
	// messages arrive one by one while the call is open.
	step chan struct{}
}

// startHealthUpstream serves gRPC on loopback: over TLS with creds, else cleartext HTTP/2 (what
// an h2c:// target reaches).
func startHealthUpstream(t *testing.T, creds credentials.TransportCredentials) *healthUpstream {
	t.Helper()
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	up := &healthUpstream{health: hs, step: make(chan struct{})}
	srv.RegisterService(&echoDesc, up)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	up.addr = ln.Addr().String()
	return up
}

// echoDesc is a service written by hand, as protoc would generate it, on protobuf's wrapper
// types: Say is unary, Count server-streaming; both set trailer metadata and Count ends with a
// status of its own.
var echoDesc = grpc.ServiceDesc{
	ServiceName: "gatehouse.test.Echo",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Say", Handler: say}},
	Streams:     []grpc.StreamDesc{{StreamName: "Count", Handler: count, ServerStreams: true}},
}

func say(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	grpc.SetTrailer(ctx, metadata.Pairs("x-said", in.Value))
	if in.Value == "fail" {
		return nil, status.Error(codes.FailedPrecondition, "the upstream refuses to say fail")
	}
	return wrapperspb.String("echo: " + in.Value), nil
}

func count(srv any, stream grpc.ServerStream) error {
	up := srv.(*healthUpstream)
	in := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	n, _ := strconv.Atoi(in.Value)
	for i := 1; i <= n; i++ {
		if i > 1 {
			select {
			case <-up.step:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if err := stream.SendMsg(wrapperspb.String(strconv.Itoa(i))); err != nil {
			return err
		}
	}
	stream.SetTrailer(metadata.Pairs("x-counted", in.Value))
	return status.Errorf(codes.OutOfRange, "counted to %d", n)
}

// healthAPI is an API in front of the health service: gRPC paths are /package.Service/Method,
// so the listen path is the service's and is not stripped.
func healthAPI(target string) *apidef.APIDefinition {
	def := gt.API("grpc-health", "/grpc.health.v1.Health/", target)
	def.Proxy.StripListenPath = false
	return def
}

// echoAPI is the API in front of the Echo service.
func echoAPI(target string) *apidef.APIDefinition {
	def := gt.API("grpc-echo", "/gatehouse.test.Echo/", target)
	def.Proxy.StripListenPath = false
	return def
}

// edgeTLS is the gateway's listener certificate, for the tests that reach it over TLS.
type edgeTLS struct {
	ca                *certtest.CA
	certFile, keyFile string
}

func newEdgeTLS(t *testing.T) *edgeTLS {
	t.Helper()
	ca := certtest.NewCA(t, "gateway CA")
	dir := t.TempDir()
	cert := ca.Localhost(t)
	return &edgeTLS{ca: ca, certFile: certtest.WriteFile(t, dir, "cert.pem", cert.CertPEM), keyFile: certtest.WriteFile(t, dir, "key.pem", cert.KeyPEM)}
}

// startGateway starts a gateway serving apis with HTTP/2 at the edge: over TLS (h2 by ALPN)
// when edge is set, else cleartext (enable_h2c). It returns a gRPC client connection to it.
func startGateway(t *testing.T, edge *edgeTLS, configure func(*config.Config), apis ...*apidef.APIDefinition) (*gt.Gateway, *grpc.ClientConn) {
	t.Helper()
	g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		if edge != nil {
			c.HTTPServerOptions.UseSSL = true
			c.HTTPServerOptions.EnableHTTP2 = true
			c.HTTPServerOptions.Certificates = []config.CertificateFile{{DomainName: "localhost", CertFile: edge.certFile, KeyFile: edge.keyFile}}
		} else {
			c.HTTPServerOptions.EnableH2C = true
		}
		if configure != nil {
			configure(c)
		}
	}})
	creds := insecure.NewCredentials()
	if edge != nil {
		creds = credentials.NewTLS(&tls.Config{RootCAs: edge.ca.Pool(), ServerName: "localhost"})
	}
	return g, dial(t, g.Server.Addr(), creds)
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestGRPCThroughGateway: unary and server-streaming calls pass through the gateway to an h2c://
// upstream and to a TLS upstream with proxy_enable_http2, with the status a call ends with
// (grpc-status and grpc-message, sent as trailers) intact.
func TestGRPCThroughGateway(t *testing.T) {
	ca := certtest.NewCA(t, "gRPC upstream CA")
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	tlsCreds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{ca.Localhost(t).TLS}})

	edge := newEdgeTLS(t)
	upstreamTLS := func(c *config.Config) {
		c.ProxySSLCAFile = caFile
		c.ProxyEnableHTTP2 = true
	}
	tests := []struct {
		name   string
		edge   *edgeTLS
		creds  credentials.TransportCredentials
		scheme string
		config func(*config.Config)
	}{
		{name: "h2c edge, h2c upstream", scheme: "h2c://"},
		{name: "h2c edge, TLS upstream with proxy_enable_http2", creds: tlsCreds, scheme: "https://", config: upstreamTLS},
		{name: "TLS edge, TLS upstream with proxy_enable_http2", edge: edge, creds: tlsCreds, scheme: "https://", config: upstreamTLS},
		{name: "TLS edge, h2c upstream", edge: edge, scheme: "h2c://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := startHealthUpstream(t, tc.creds)
			_, conn := startGateway(t, tc.edge, tc.config, healthAPI(tc.scheme+up.addr), echoAPI(tc.scheme+up.addr))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// Unary, on the standard health service.
			client := healthpb.NewHealthClient(conn)
			res, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if res.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("Check: %v, want SERVING", res.Status)
			}
			// A call that fails upstream ends with the upstream's status and message.
			_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "no-such-service"})
			if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "unknown service" {
				t.Errorf("Check of an unknown service: %v, want NotFound \"unknown service\" from the upstream", err)
			}

			// Unary with trailer metadata, answered and refused.
			var trailer metadata.MD
			out := new(wrapperspb.StringValue)
			if err := conn.Invoke(ctx, "/gatehouse.test.Echo/Say", wrapperspb.String("hello"), out, grpc.Trailer(&trailer)); err != nil {
				t.Fatalf("Say: %v", err)
			}
			if out.Value != "echo: hello" || !slices.Equal(trailer.Get("x-said"), []string{"hello"}) {
				t.Errorf("Say: %q with trailers %v, want \"echo: hello\" and x-said: hello", out.Value, trailer)
			}
			err = conn.Invoke(ctx, "/gatehouse.test.Echo/Say", wrapperspb.String("fail"), out, grpc.Trailer(&trailer))
			if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "the upstream refuses to say fail" {
				t.Errorf("Say fail: %v, want the upstream's FailedPrecondition", err)
			}
			if !slices.Equal(trailer.Get("x-said"), []string{"fail"}) {
				t.Errorf("Say fail: trailers %v, want x-said: fail", trailer)
			}

			// Server streaming: each message arrives while the call is open (the next is sent
			// only once the previous one was received), and the call ends with the upstream's
			// status and trailer metadata.
			stream, err := conn.NewStream(ctx, &echoDesc.Streams[0], "/gatehouse.test.Echo/Count")
			if err != nil {
				t.Fatalf("Count: %v", err)
			}
			if err := stream.SendMsg(wrapperspb.String("3")); err != nil {
				t.Fatal(err)
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				if i > 1 {
					select {
					case up.step <- struct{}{}:
					case <-ctx.Done():
						t.Fatalf("the upstream never asked for message %d", i)
					}
				}
				msg := new(wrapperspb.StringValue)
				if err := stream.RecvMsg(msg); err != nil {
					t.Fatalf("Count message %d: %v", i, err)
				}
				if msg.Value != strconv.Itoa(i) {
					t.Fatalf("Count message %d: %q", i, msg.Value)
				}
			}
			err = stream.RecvMsg(new(wrapperspb.StringValue))
			if st := status.Convert(err); st.Code() != codes.OutOfRange || st.Message() != "counted to 3" {
				t.Errorf("Count ended with %v, want the upstream's OutOfRange \"counted to 3\"", err)
			}
			if got := stream.Trailer().Get("x-counted"); !slices.Equal(got, []string{"3"}) {
				t.Errorf("Count trailers %v, want x-counted: 3", stream.Trailer())
			}

			// The health service's Watch, a stream that stays open: status changes arrive.
			watch, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			for i, w := range []healthpb.HealthCheckResponse_ServingStatus{
				healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING,
			} {
				if i > 0 {
					up.health.SetServingStatus("orders", w)
				}
				msg, err := watch.Recv()
				if err != nil {
					t.Fatalf("Watch message %d: %v", i, err)
				}
				if msg.Status != w {
					t.Fatalf("Watch message %d: %v, want %v", i, msg.Status, w)
				}
			}
		})
	}
}

// TestGRPCTLSUpstreamNeedsHTTP2: without proxy_enable_http2 the gateway speaks HTTP/1.1 to TLS
// upstreams, as Tyk does, which a gRPC server refuses: the call fails, and it does not hang.
func TestGRPCTLSUpstreamNeedsHTTP2(t *testing.T) {
	ca := certtest.NewCA(t, "gRPC upstream CA")
	caFile := certtest.WriteFile(t, t.TempDir(), "ca.pem", ca.PEM)
	up := startHealthUpstream(t, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{ca.Localhost(t).TLS}}))
	_, conn := startGateway(t, nil, func(c *config.Config) { c.ProxySSLCAFile = caFile }, healthAPI("https://"+up.addr))
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
	if err == nil {
		t.Fatal("Check over HTTP/1.1 to a gRPC server succeeded")
	}
	if status.Code(err) == codes.DeadlineExceeded {
		t.Errorf("Check hung: %v", err)
	}
}

// TestGRPCPluginRefusesCall: plugins run on gRPC calls like on any other request; a pre hook
// refuses one with a gRPC status of its own, which the client reads, and the upstream is not
// reached. A real .so, built as the gateway tests build theirs.
func TestGRPCPluginRefusesCall(t *testing.T) {
	so := plugintest.Build(t, "internal/plugintest/testdata/grpcrefuse")
	up := startHealthUpstream(t, nil)
	refused := healthAPI("h2c://" + up.addr)
	refused.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin",
		Pre: []apidef.MiddlewareDefinition{{Name: "RefuseGRPC", Path: so}}}
	passed := echoAPI("h2c://" + up.addr)
	_, conn := startGateway(t, nil, nil, refused, passed)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "orders"})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "refused by a plugin" {
		t.Fatalf("Check through the refusing hook: %v, want the plugin's PermissionDenied", err)
	}
	// The other API has no hook: its calls pass.
	out := new(wrapperspb.StringValue)
	if err := conn.Invoke(ctx, "/gatehouse.test.Echo/Say", wrapperspb.String("hi"), out); err != nil || out.Value != "echo: hi" {
		t.Fatalf("Say without a hook: %q, %v", out.Value, err)
	}
}

func TestMain(m *testing.M) { plugintest.Main(m) }
