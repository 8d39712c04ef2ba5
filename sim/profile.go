package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers the profiling handlers for -pprof
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// startProfiles starts the profiles opts asks for and returns a function
// that stops them and writes them out.
func startProfiles(opts options) (stop func() error, err error) {
	var cpu *os.File
	if opts.cpuProfile != "" {
		if cpu, err = os.Create(opts.cpuProfile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			_ = cpu.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	var srv *http.Server
	if opts.pprofAddr != "" {
		l, err := net.Listen("tcp", opts.pprofAddr)
		if err != nil {
			return nil, fmt.Errorf("pprof: %w", err)
		}
		// The default mux carries net/http/pprof's handlers.
		srv = &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
	}
	if opts.mutexProf != "" {
		// Sample one contention event in ten: enough to rank the locks
		// without slowing the run much.
		runtime.SetMutexProfileFraction(10)
	}
	return func() error {
		var errs []error
		if srv != nil {
			errs = append(errs, srv.Close())
		}
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if opts.mutexProf != "" {
			errs = append(errs, writeProfile("mutex", opts.mutexProf))
		}
		return errors.Join(errs...)
	}, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
