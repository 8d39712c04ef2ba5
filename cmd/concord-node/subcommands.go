package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/concord-kv/concord"
)

// subcommands are the commands that talk to a running node instead of
// starting one, by name: each parses its own arguments and writes its
// answer to out.
var subcommands = map[string]func(args []string, out, errOut io.Writer) error{
	"status": runStatus,
	"ring":   runRing,
	"ranges": runRanges,
	"get":    runGet,
	"put":    runPut,
	"delete": runDelete,
}

// remoteFlags are the flags every subcommand shares.
type remoteFlags struct {
	addr    string
	asJSON  bool
	timeout time.Duration
}

func newRemoteFlagSet(name string, errOut io.Writer) (*flag.FlagSet, *remoteFlags) {
	fs := flag.NewFlagSet("concord-node "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	rf := &remoteFlags{}
	fs.StringVar(&rf.addr, "addr", concord.DefaultBindAddr, "address of a running node")
	fs.BoolVar(&rf.asJSON, "json", false, "print the answer as JSON")
	fs.DurationVar(&rf.timeout, "timeout", 10*time.Second, "how long to wait for the answer")
	return fs, rf
}

// parseArgs parses flags wherever they appear among the positional
// arguments (`put KEY VALUE --ttl 1m`), up to a "--" after which every
// argument is positional (for values starting with '-'), and checks that
// there are exactly want positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, want int, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		return nil, fmt.Errorf("usage: %s %s", fs.Name(), usage)
	}
	return pos, nil
}

// quietHelp turns --help into success: the flag package has printed the
// usage already.
func quietHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
