package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/concord-kv/concord/api/adminpb"
)

// runRing prints every ring member's place in the ring, as each sees it.
func runRing(args []string, out, errOut io.Writer) error {
	return runAdminQuery("ring", args, out, errOut, func(ctx context.Context, c adminpb.AdminClient) (*adminpb.RingResponse, error) {
		return c.Ring(ctx, &adminpb.RingRequest{})
	}, printRing)
}

func printRing(out io.Writer, resp *adminpb.RingResponse) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RING (as seen by %s)\n", resp.Node)
	fmt.Fprintln(tw, "NAME\tADDRESS\tRING ID\tOWNS (start, end]\tPREDECESSOR\tSUCCESSORS")
	for _, n := range resp.Nodes {
		owns := "-"
		if n.HasRange {
			owns = fmt.Sprintf("(%016x, %016x]", n.RangeStart, n.RangeEnd)
		}
		pred := "-"
		if n.Predecessor != nil {
			pred = n.Predecessor.Name
		}
		var succs []string
		for _, s := range n.Successors {
			succs = append(succs, s.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%016x\t%s\t%s\t%s\n", n.Self.GetName(), n.Self.GetAddress(), n.Self.GetRingId(), owns, pred, strings.Join(succs, ","))
	}
	if len(resp.Unreachable) > 0 {
		fmt.Fprintf(tw, "\nunreachable members: %s\n", strings.Join(resp.Unreachable, ", "))
	}
	return tw.Flush()
}

// runRanges prints every range of the cluster with its replicas and
// leader.
func runRanges(args []string, out, errOut io.Writer) error {
	return runAdminQuery("ranges", args, out, errOut, func(ctx context.Context, c adminpb.AdminClient) (*adminpb.RangesResponse, error) {
		return c.Ranges(ctx, &adminpb.RangesRequest{})
	}, printRanges)
}

func printRanges(out io.Writer, resp *adminpb.RangesResponse) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RANGES (as seen by %s)\n", resp.Node)
	fmt.Fprintln(tw, "RANGE\tSPAN (start, end]\tGENERATION\tREPLICAS\tLEADER\tLEADER ADDRESS")
	for _, r := range resp.Ranges {
		leader, laddr := r.Leader, r.LeaderAddress
		if leader == "" {
			leader = "-"
		}
		if laddr == "" {
			laddr = "-"
		}
		fmt.Fprintf(tw, "%d\t(%016x, %016x]\t%d\t%s\t%s\t%s\n", r.RangeId, r.Start, r.End, r.Generation, replicaList(r.Replicas), leader, laddr)
	}
	if len(resp.Unreachable) > 0 {
		fmt.Fprintf(tw, "\nunreachable members: %s\n", strings.Join(resp.Unreachable, ", "))
	}
	return tw.Flush()
}

// runAdminQuery is the body of the subcommands that ask a node's admin
// service one question: it parses the flags, asks, and prints the answer
// as JSON with --json or else with text.
func runAdminQuery[T proto.Message](name string, args []string, out, errOut io.Writer,
	ask func(context.Context, adminpb.AdminClient) (T, error), text func(io.Writer, T) error) error {
	fs, rf := newRemoteFlagSet(name, errOut)
	if _, err := parseArgs(fs, args, 0, "[--addr ADDR] [--json]"); err != nil {
		return quietHelp(err)
	}
	var resp T
	err := withAdmin(rf, func(ctx context.Context, c adminpb.AdminClient) (err error) {
		resp, err = ask(ctx, c)
		return err
	})
	if err != nil {
		return err
	}
	if rf.asJSON {
		return printJSON(out, resp)
	}
	return text(out, resp)
}

// withAdmin calls the admin service of the node at rf.addr, within
// rf.timeout.
func withAdmin(rf *remoteFlags, call func(context.Context, adminpb.AdminClient) error) error {
	conn, err := grpc.NewClient(rf.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rf.timeout)
	defer cancel()
	if err := call(ctx, adminpb.NewAdminClient(conn)); err != nil {
		return fmt.Errorf("ask %s: %w", rf.addr, err)
	}
	return nil
}

func printJSON(out io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}
