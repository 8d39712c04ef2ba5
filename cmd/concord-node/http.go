package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/httpapi"
)

// DefaultHTTPAddr is where a node serves its HTTP API unless --http-addr
// says otherwise.
const DefaultHTTPAddr = "127.0.0.1:4000"

// serveHTTP serves the node's HTTP API (REST, OpenAPI, docs, /metrics,
// health and readiness) on addr until the returned stop is called, which
// lets requests in flight finish for a few seconds.
func serveHTTP(addr string, node *concord.Node, reg *prometheus.Registry, logger *slog.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http api: %w", err)
	}
	srv := &http.Server{
		Handler: httpapi.New(node, httpapi.Options{
			Logger:     logger,
			Ready:      node.Ready,
			Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
			Registerer: reg,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http api stopped", "err", err)
		}
	}()
	logger.Info("http api listening", "addr", lis.Addr().String(), "docs", "http://"+lis.Addr().String()+"/api/docs")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
