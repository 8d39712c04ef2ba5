package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/api/adminpb"

	"github.com/concord-kv/concord/internal/await"
	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
	"github.com/concord-kv/concord/router/routerpb"
)

// forward sends one request to the node at addr through the node-to-node
// Forward service, which serves it from that node's own replica of the
// key's range. (The public KV API comes with the gRPC service; this test
// only needs to reach a replica.)
func forward(addr string, req *routerpb.ServeRequest) (*routerpb.ServeReply, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return routerpb.NewForwardClient(conn).Serve(ctx, req)
}

// put writes key=value through whichever process leads the key's range.
func put(procs []*proc, key, value string) error {
	w, err := proto.Marshal(&kvpb.Request{Op: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(key), Value: []byte(value)}}})
	if err != nil {
		return err
	}
	var last error = errors.New("no live process")
	for _, p := range procs {
		_, _, addr, _, _ := p.snapshot()
		reply, err := forward(addr, &routerpb.ServeRequest{Position: xxhash.Sum64String(key), Op: &routerpb.ServeRequest_Write{Write: w}})
		if err != nil {
			last = err
			continue
		}
		if reply.Error == routerpb.ErrorKind_NONE {
			return nil
		}
		last = fmt.Errorf("%s: %v %s", addr, reply.Error, reply.Message)
	}
	return last
}

// localValue reads key from the process's own replica (eventual
// consistency: no leader involved).
func localValue(p *proc, key string) (string, error) {
	r, err := proto.Marshal(&kvpb.ReadRequest{Op: &kvpb.ReadRequest_Get{Get: &kvpb.GetRequest{Key: []byte(key)}}})
	if err != nil {
		return "", err
	}
	_, _, addr, _, _ := p.snapshot()
	reply, err := forward(addr, &routerpb.ServeRequest{Position: xxhash.Sum64String(key), Op: &routerpb.ServeRequest_Read{Read: r}, Consistency: routerpb.Consistency_EVENTUAL})
	if err != nil {
		return "", err
	}
	if reply.Error != routerpb.ErrorKind_NONE {
		return "", fmt.Errorf("%v %s", reply.Error, reply.Message)
	}
	var resp kvpb.ReadResponse
	if err := proto.Unmarshal(reply.Response, &resp); err != nil {
		return "", err
	}
	if resp.Code != kvpb.ErrorCode_OK {
		return "", fmt.Errorf("%v", resp.Code)
	}
	return string(resp.Results[0].Value.Value), nil
}

// TestKilledProcessCatchesUp runs three concord-node processes, writes
// keys, SIGKILLs one, keeps writing, restarts it on its data directory and
// checks that its own replicas catch up with every write.
func TestKilledProcessCatchesUp(t *testing.T) {
	bin := buildNode(t)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	first := startProc(t, bin, "--name", "p1", "--data-dir", dirs[0])
	await.Until(t, 20*time.Second, "first node listening", func() error {
		if _, _, addr, _, _ := first.snapshot(); addr == "" {
			return errors.New("no address logged yet")
		}
		return nil
	})
	_, _, seed, _, _ := first.snapshot()
	procs := []*proc{first,
		startProc(t, bin, "--name", "p2", "--join", seed, "--data-dir", dirs[1]),
		startProc(t, bin, "--name", "p3", "--join", seed, "--data-dir", dirs[2])}
	await.Until(t, 30*time.Second, "three processes form one ring", func() error { return ringFormed(procs) })

	want := map[string]string{}
	write := func(live []*proc, from, to int) {
		for i := from; i < to; i++ {
			k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
			await.Until(t, 30*time.Second, "write "+k, func() error { return put(live, k, v) })
			want[k] = v
		}
	}
	write(procs, 0, 50)

	victim := procs[2]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	_ = victim.cmd.Wait()
	write(procs[:2], 50, 100)

	back := startProc(t, bin, "--name", "p3", "--join", seed, "--data-dir", dirs[2])
	await.Until(t, 60*time.Second, "restarted process catches up", func() error {
		for k, v := range want {
			got, err := localValue(back, k)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if got != v {
				return fmt.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		return nil
	})

	// The operator's view: every member and every range with its replicas.
	await.Until(t, 30*time.Second, "status lists the cluster", func() error {
		out, err := exec.Command(bin, "status", "--addr", seed, "--json").Output()
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		var st adminpb.StatusResponse
		if err := protojson.Unmarshal(out, &st); err != nil {
			return err
		}
		if len(st.Members) < 3 || len(st.Ranges) < 3 {
			return fmt.Errorf("%d members, %d ranges", len(st.Members), len(st.Ranges))
		}
		var keys int64
		for _, r := range st.Ranges {
			if len(r.Replicas) != 3 || r.Leader == "" {
				return fmt.Errorf("range %d: replicas %v, leader %q", r.RangeId, r.Replicas, r.Leader)
			}
			keys += r.Keys
		}
		if keys != int64(len(want)) {
			return fmt.Errorf("status counts %d keys, want %d", keys, len(want))
		}
		return nil
	})
	text, err := exec.Command(bin, "status", "--addr", seed).Output()
	if err != nil || !strings.Contains(string(text), "MEMBERS") || !strings.Contains(string(text), "RANGES") {
		t.Fatalf("status text output: %v\n%s", err, text)
	}
}
