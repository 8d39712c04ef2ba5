package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/concord-kv/concord"
	"github.com/concord-kv/concord/api/adminpb"
)

// runStatus asks a running node for the cluster's status and prints its
// members and every range.
func runStatus(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("concord-node status", flag.ContinueOnError)
	fs.SetOutput(errOut)
	addr := fs.String("addr", concord.DefaultBindAddr, "address of a running node")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	st, err := adminpb.NewAdminClient(conn).Status(ctx, &adminpb.StatusRequest{Cluster: true})
	if err != nil {
		return fmt.Errorf("ask %s: %w", *addr, err)
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	}
	return printStatus(out, st)
}

func printStatus(out io.Writer, st *adminpb.StatusResponse) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBERS (as seen by %s)\n", st.Node)
	fmt.Fprintln(tw, "NAME\tADDRESS\tRING ID\tSTATE")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%016x\t%s\n", m.Name, m.Address, m.RingId, m.State)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RANGES")
	fmt.Fprintln(tw, "RANGE\tSPAN (start, end]\tREPLICAS\tLEADER\tAPPLIED\tKEYS\tBYTES")
	for _, r := range st.Ranges {
		var reps []string
		for _, rep := range r.Replicas {
			s := rep.Node
			if rep.Type != "voter" {
				s += "(" + rep.Type + ")"
			}
			reps = append(reps, s)
		}
		keys := fmt.Sprint(r.Keys)
		if !r.KeysExact {
			keys = ">=" + keys
		}
		leader := r.Leader
		if leader == "" {
			leader = "-"
		}
		fmt.Fprintf(tw, "%d\t(%016x, %016x]\t%s\t%s\t%d\t%s\t%d\n", r.RangeId, r.Start, r.End, strings.Join(reps, ","), leader, r.AppliedIndex, keys, r.Bytes)
	}
	if len(st.Unreachable) > 0 {
		fmt.Fprintf(tw, "\nunreachable members: %s\n", strings.Join(st.Unreachable, ", "))
	}
	return tw.Flush()
}
