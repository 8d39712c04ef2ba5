package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/client"
)

// runGet prints a key's value (with --json, its metadata too).
func runGet(args []string, out, errOut io.Writer) error {
	fs, rf := newRemoteFlagSet("get", errOut)
	level := fs.String("consistency", "leader", "leader, strong or eventual")
	pos, err := parseArgs(fs, args, 1, "[flags] KEY")
	if err != nil {
		return quietHelp(err)
	}
	var c concord.Consistency
	switch *level {
	case "leader":
		c = concord.Leader
	case "strong":
		c = concord.Strong
	case "eventual":
		c = concord.Eventual
	default:
		return fmt.Errorf("--consistency must be leader, strong or eventual, got %q", *level)
	}
	var kv *concord.KeyValue
	err = withClient(rf, func(ctx context.Context, cl *client.Client) (err error) {
		kv, err = cl.Get(ctx, []byte(pos[0]), concord.WithConsistency(c))
		return err
	})
	if err != nil {
		return err
	}
	if rf.asJSON {
		return writeJSON(out, kvJSON(kv, true))
	}
	_, err = fmt.Fprintf(out, "%s\n", kv.Value)
	return err
}

// runPut writes a key.
func runPut(args []string, out, errOut io.Writer) error {
	fs, rf := newRemoteFlagSet("put", errOut)
	ttl := fs.Duration("ttl", 0, "expire the key this long after the write (0: never)")
	pos, err := parseArgs(fs, args, 2, "[flags] KEY VALUE")
	if err != nil {
		return quietHelp(err)
	}
	var kv *concord.KeyValue
	err = withClient(rf, func(ctx context.Context, cl *client.Client) (err error) {
		kv, err = cl.Put(ctx, []byte(pos[0]), []byte(pos[1]), concord.WithTTL(*ttl))
		return err
	})
	if err != nil {
		return err
	}
	if rf.asJSON {
		return writeJSON(out, kvJSON(kv, false))
	}
	msg := fmt.Sprintf("OK: %s version %d, revision %d", kv.Key, kv.Version, kv.ModRevision)
	if !kv.ExpiresAt.IsZero() {
		msg += ", expires " + kv.ExpiresAt.Format(time.RFC3339)
	}
	_, err = fmt.Fprintln(out, msg)
	return err
}

// runDelete removes a key.
func runDelete(args []string, out, errOut io.Writer) error {
	fs, rf := newRemoteFlagSet("delete", errOut)
	pos, err := parseArgs(fs, args, 1, "[flags] KEY")
	if err != nil {
		return quietHelp(err)
	}
	err = withClient(rf, func(ctx context.Context, cl *client.Client) error {
		return cl.Delete(ctx, []byte(pos[0]))
	})
	if err != nil {
		return err
	}
	if rf.asJSON {
		return writeJSON(out, map[string]any{"key": pos[0], "deleted": true})
	}
	_, err = fmt.Fprintf(out, "deleted %s\n", pos[0])
	return err
}

// withClient runs call with a client seeded with rf.addr, within
// rf.timeout.
func withClient(rf *remoteFlags, call func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), rf.timeout)
	defer cancel()
	cl, err := client.New(ctx, client.Config{Seeds: []string{rf.addr}, Timeout: rf.timeout})
	if err != nil {
		return err
	}
	defer cl.Close()
	return call(ctx, cl)
}

// keyValueJSON is the --json form of a key: bytes that are not UTF-8 are
// given in base64 instead (key_base64, value_base64).
type keyValueJSON struct {
	Key            string     `json:"key,omitempty"`
	KeyBase64      []byte     `json:"key_base64,omitempty"`
	Value          *string    `json:"value,omitempty"`
	ValueBase64    []byte     `json:"value_base64,omitempty"`
	Version        uint64     `json:"version"`
	CreateRevision uint64     `json:"create_revision"`
	ModRevision    uint64     `json:"mod_revision"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
}

func kvJSON(kv *concord.KeyValue, withValue bool) keyValueJSON {
	out := keyValueJSON{Version: kv.Version, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
	if utf8.Valid(kv.Key) {
		out.Key = string(kv.Key)
	} else {
		out.KeyBase64 = kv.Key
	}
	if withValue {
		if utf8.Valid(kv.Value) {
			v := string(kv.Value)
			out.Value = &v
		} else {
			out.ValueBase64 = kv.Value
		}
	}
	if !kv.ExpiresAt.IsZero() {
		t := kv.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	return out
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
